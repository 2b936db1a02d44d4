"""Realtime payloads and group names, and broadcasting them (always after the write has committed)."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .models import Message, ModerationState


def staff_group() -> str:
    """Every staff socket: they see content moderation keeps from everyone else."""
    return "moderation.staff"


def channel_group(channel_id) -> str:
    return f"channel.{channel_id}"


def forum_post_group(post_id) -> str:
    """The sockets watching a topic (``forum:watch``)."""
    return f"forum.post.{post_id}"


def forum_channel_group(channel_id) -> str:
    """The sockets watching any topic of a forum channel: told when access to the channel changes."""
    return f"forum.channel.{channel_id}"


def author_payload(user) -> dict | None:
    """Who wrote it. ``username`` is the unique handle shown beside the display name, and ``is_staff``
    the staff badge, so nobody passes as a moderator by choosing "Mo Derator" as their name."""
    if user is None:
        return None
    profile = getattr(user, "profile", None)
    return {
        "id": str(user.pk),
        "username": user.username,
        "display_name": (profile.full_name if profile and profile.full_name else user.username),
        "avatar": profile.avatar_src if profile else "",
        "is_staff": bool(user.is_staff),
    }


def attachment_payload(snapshot: dict) -> dict:
    """An attachment as clients see it: served by the access-checked download view, whatever URL
    the snapshot was taken with."""
    from .models import attachment_url

    return {**snapshot, "url": attachment_url(snapshot["id"], snapshot.get("content_type", ""))}


def message_payload(message: Message, *, reactions: dict | None = None) -> dict:
    """The one shape of a message, for websockets and the REST API alike."""
    deleted = message.deleted_at is not None
    return {
        "id": str(message.id),
        "channel": str(message.channel_id),
        "seq": message.seq,
        "parent": str(message.parent_id) if message.parent_id else None,
        "user": author_payload(message.user),
        "content": "" if deleted else message.content,
        "content_type": message.content_type,
        "attachments": [] if deleted else [attachment_payload(a) for a in message.attachments],
        "reactions": reactions or {},
        "reply_count": message.reply_count,
        "last_reply_at": message.last_reply_at.isoformat() if message.last_reply_at else None,
        "client_id": message.client_id or None,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": deleted,
    }


def group_event(payload: dict, *, exclude: str | None = None, channel=None) -> dict:
    """The channel-layer message for a frame, serialised once here rather than once per socket.
    ``channel`` lets a socket drop a frame of a channel it has just left or been removed from."""
    channel = channel if channel is not None else payload.get("channel")
    return {"type": "community.event", "text": frame_text(payload), "exclude": exclude,
            "channel": str(channel) if channel is not None else None}


def frame_text(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"), default=str)


def broadcast(channel_id, payload: dict, *, exclude: str | None = None) -> None:
    """Sends a protocol frame to every socket joined to a community channel."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(channel_group(channel_id), group_event(payload, exclude=exclude, channel=channel_id))


def channel_access_changed(channel_id) -> None:
    """Tells every socket joined to the channel to re-decide its access now (a member removed, the
    channel made private). A socket that lost access leaves and gets ``channel:removed``."""
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "access.channel", "channel": str(channel_id)}
    async_to_sync(layer.group_send)(channel_group(channel_id), event)
    # Sockets watching the channel's forum topics without having joined it decide again too.
    async_to_sync(layer.group_send)(forum_channel_group(channel_id), event)


def _restricted_send(event: dict, author_id) -> None:
    """A frame about content only its author and staff may see (``permissions.content_visible``): to the
    author's own sockets and to staff sockets, never to the channel's or topic's group. A staff author's
    sockets are in both groups: the staff copy skips them (``exclude_user``)."""
    from accounts.events import user_group_name

    layer = get_channel_layer()
    if layer is None:
        return
    if author_id is not None:
        async_to_sync(layer.group_send)(user_group_name(author_id), event)
    async_to_sync(layer.group_send)(staff_group(), {**event, "exclude_user": str(author_id) if author_id else None})


def message_broadcast(message: Message, payload: dict) -> None:
    """To the channel's sockets, or, for a message moderation keeps from others, its author's and staff's."""
    if message.moderation_state == ModerationState.VISIBLE:
        broadcast(message.channel_id, payload)
    else:
        _restricted_send(group_event(payload, channel=message.channel_id), message.user_id)


def message_created(message: Message) -> None:
    message_broadcast(message, {"type": "message:new", "message": message_payload(message)})


def message_edited(message: Message) -> None:
    message_broadcast(message, {"type": "message:edited", "message": message_payload(message)})


def message_deleted(message: Message) -> None:
    message_broadcast(
        message,
        {"type": "message:deleted", "id": str(message.id), "channel": str(message.channel_id), "seq": message.seq},
    )


def _others_event(event: dict, author_id) -> dict:
    """Marks a frame for the sockets of everyone but the content's author and staff (who see moderated
    content all along): the consumers drop it on theirs."""
    return {**event, "exclude_user": str(author_id) if author_id else None, "exclude_staff": True}


def message_shown(message: Message) -> None:
    """Content moderation kept from others became visible (approved): new to everyone else in the channel."""
    payload = {"type": "message:new", "message": message_payload(message)}
    _channel_send(message.channel_id, _others_event(group_event(payload, channel=message.channel_id), message.user_id))


def message_gone(message: Message) -> None:
    """Visible content moderation now keeps from others (hidden): deleted, as far as everyone else sees."""
    payload = {"type": "message:deleted", "id": str(message.id), "channel": str(message.channel_id), "seq": message.seq}
    _channel_send(message.channel_id, _others_event(group_event(payload, channel=message.channel_id), message.user_id))


def _channel_send(channel_id, event: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(channel_group(channel_id), event)


def reaction_updated(message: Message, *, emoji: str, count: int, user_id, added: bool) -> None:
    message_broadcast(
        message,
        {
            "type": "reaction:updated",
            "message": str(message.id),
            "channel": str(message.channel_id),
            "emoji": emoji,
            "count": count,
            "user": str(user_id),
            "added": added,
        },
    )


def forum_post_payload(post, *, reactions: dict | None = None, content_html: str | None = None) -> dict:
    """The one shape of a forum topic (REST now; the ``forum:*`` frames later). ``post`` comes from
    ``selectors`` with ``last_activity_at``, ``reaction_total`` and ``solution_id`` annotated;
    ``content_html`` when a list rendered many at once (``markup.forum_html_many``)."""
    from .markup import forum_html

    solution_id = getattr(post, "solution_id", None)
    last_activity = getattr(post, "last_activity_at", None) or post.last_reply_at or post.created_at
    return {
        "id": str(post.id),
        "channel": str(post.channel_id),
        "author": author_payload(post.author),
        "title": post.title,
        "content": post.content,
        "content_html": forum_html(post.content) if content_html is None else content_html,
        "tags": list(post.tags),
        "is_pinned": post.is_pinned,
        "is_locked": post.is_locked,
        "is_solved": solution_id is not None,
        "solution": str(solution_id) if solution_id else None,
        "view_count": post.view_count,
        "reply_count": post.reply_count,
        "reaction_count": getattr(post, "reaction_total", 0),
        "reactions": reactions or {},
        "last_reply_at": post.last_reply_at.isoformat() if post.last_reply_at else None,
        "last_activity_at": last_activity.isoformat(),
        "created_at": post.created_at.isoformat(),
        "edited_at": post.edited_at.isoformat() if post.edited_at else None,
    }


def forum_reply_payload(reply, *, reactions: dict | None = None, content_html: str | None = None) -> dict:
    """The one shape of a forum reply; a deleted one is a tombstone with no content."""
    from .markup import forum_html

    deleted = reply.deleted_at is not None
    return {
        "id": str(reply.id),
        "post": str(reply.post_id),
        "author": author_payload(reply.author),
        "content": "" if deleted else reply.content,
        "content_html": "" if deleted else (forum_html(reply.content) if content_html is None else content_html),
        "is_solution": reply.is_solution,
        "reactions": {} if deleted else (reactions or {}),
        "created_at": reply.created_at.isoformat(),
        "edited_at": reply.edited_at.isoformat() if reply.edited_at else None,
        "deleted": deleted,
    }


def forum_broadcast(post_id, payload: dict) -> None:
    """Sends a ``forum:*`` frame to every socket watching the topic, serialised once. ``post`` lets a
    socket drop a frame of a topic it has just stopped watching."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        forum_post_group(post_id), {"type": "forum.event", "text": frame_text(payload), "post": str(post_id)}
    )


def forum_reply_broadcast(reply, payload: dict) -> None:
    """To the topic's watchers, or, for a reply moderation keeps from others, its author's and staff's
    sockets (those watching the topic)."""
    if reply.moderation_state == ModerationState.VISIBLE:
        forum_broadcast(reply.post_id, payload)
    else:
        _restricted_send({"type": "forum.event", "text": frame_text(payload), "post": str(reply.post_id)}, reply.author_id)


def forum_reply_created(reply) -> None:
    """``forum:reply``: the reply as the API returns it (without the viewer's ``can_*``: those come
    from the topic's own flags), after the write has committed."""
    forum_reply_broadcast(reply, {"type": "forum:reply", "post": str(reply.post_id), "reply": forum_reply_payload(reply)})


def forum_reply_updated(reply) -> None:
    """``forum:reply_updated``: an edit, a delete (a tombstone) or a solution marked or unmarked."""
    forum_reply_broadcast(
        reply, {"type": "forum:reply_updated", "post": str(reply.post_id), "reply": forum_reply_payload(reply)}
    )


def forum_replies_updated(replies) -> None:
    for reply in replies:
        forum_reply_updated(reply)


def _forum_others_send(reply, payload: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        event = {"type": "forum.event", "text": frame_text(payload), "post": str(reply.post_id)}
        async_to_sync(layer.group_send)(forum_post_group(reply.post_id), _others_event(event, reply.author_id))


def forum_reply_shown(reply) -> None:
    """A reply moderation kept from others became visible (approved): a new ``forum:reply`` to the topic's
    other watchers."""
    _forum_others_send(reply, {"type": "forum:reply", "post": str(reply.post_id), "reply": forum_reply_payload(reply)})


def forum_reply_gone(reply) -> None:
    """A visible reply moderation now keeps from others (hidden): a tombstone (``deleted: true``, no content)
    to the topic's other watchers, as a deletion looks."""
    tombstone = {**forum_reply_payload(reply), "content": "", "content_html": "", "reactions": {}, "deleted": True}
    _forum_others_send(reply, {"type": "forum:reply_updated", "post": str(reply.post_id), "reply": tombstone})
