"""Who may do what in the community (the seed's messages policies, plus private/locked channels).

Authenticated users read public channels; private channels only their members (others: 404);
posting as yourself only; locked or read-only channels: staff only; archived channels: nobody posts;
edit/delete your own message (staff: any). Forum topics and replies follow their channel's rules: see
the forum section below. Asked through ``agentwise.access.can`` / ``require``, and
sent to clients as ``can_*`` flags computed here, so no page or script re-derives a rule.
"""

from __future__ import annotations

import rules

from agentwise.access import add_rules, can

from .models import Channel, ChannelMember, ChannelState, ChannelType, ModerationState

_MEMBER_CACHE = "_member_ids"


def is_channel_member(user, channel: Channel) -> bool:
    """Membership of a private channel, cached on the instance (selectors can pre-fill it)."""
    cache = channel.__dict__.setdefault(_MEMBER_CACHE, {})
    if user.pk not in cache:
        if getattr(channel, "viewer_id", None) == str(user.pk):  # annotated by selectors for this user
            cache[user.pk] = bool(channel.is_member)
        else:
            cache[user.pk] = ChannelMember.objects.filter(channel=channel, user=user).exists()
    return cache[user.pk]


def prefill_membership(channel: Channel, members: dict) -> None:
    """Answers ``is_channel_member`` for these users from a bulk lookup (``{user_pk: bool}``)."""
    channel.__dict__.setdefault(_MEMBER_CACHE, {}).update(members)


def content_author_id(obj):
    """Who wrote a message (``user``), a forum topic or a reply (``author``)."""
    return obj.user_id if hasattr(obj, "user_id") else obj.author_id


@rules.predicate
def content_visible(user, obj) -> bool:
    """Moderation: content not ``visible`` (shadowed by a rule, held for approval, hidden by reports) is
    seen by its author and staff only, so a shadowbanned author sees their content as everyone's.
    ``selectors.moderation_visible_q`` is the same rule as a query."""
    if obj is None:
        return False
    if getattr(obj, "moderation_state", ModerationState.VISIBLE) == ModerationState.VISIBLE:
        return True
    if not user.is_authenticated:
        return False
    return bool(user.is_staff) or content_author_id(obj) == user.pk


@rules.predicate
def can_see_channel(user, channel) -> bool:
    if channel is None or not user.is_authenticated:
        return False
    if not channel.is_private or user.is_staff:
        return True
    return is_channel_member(user, channel)


@rules.predicate
def channel_accepts_posts(user, channel) -> bool:
    if channel is None or channel.state == ChannelState.ARCHIVED:
        return False
    if channel.is_locked or channel.state == ChannelState.READ_ONLY:
        return user.is_staff
    return True


@rules.predicate
def is_author(user, message) -> bool:
    return message is not None and user.is_authenticated and message.user_id == user.pk


@rules.predicate
def message_is_live(user, message) -> bool:
    return message is not None and message.deleted_at is None


@rules.predicate
def can_see_message(user, message) -> bool:
    return message is not None and can_see_channel(user, message.channel) and content_visible(user, message)


@rules.predicate
def message_channel_not_archived(user, message) -> bool:
    return message is not None and message.channel.state != ChannelState.ARCHIVED


# --- Forum: the same channel rules, applied through the topic's channel ---------------------------


@rules.predicate
def can_read_forum_channel(user, channel) -> bool:
    """A public forum is open to every reader, signed in or not (search engines too): the forum is the
    community's lasting, findable half. Private forums and every chat channel keep ``can_see_channel``."""
    if channel is None:
        return False
    if channel.type == ChannelType.FORUM and not channel.is_private:
        return True
    return can_see_channel(user, channel)


@rules.predicate
def can_see_forum_post(user, post) -> bool:
    """The topic's forum is readable and the topic is visible (or the user's own, or staff); its replies
    follow it (``can_see_forum_reply``)."""
    return post is not None and can_read_forum_channel(user, post.channel) and content_visible(user, post)


@rules.predicate
def forum_post_channel_accepts_posts(user, post) -> bool:
    return post is not None and channel_accepts_posts(user, post.channel)


@rules.predicate
def forum_post_channel_not_archived(user, post) -> bool:
    return post is not None and post.channel.state != ChannelState.ARCHIVED


@rules.predicate
def forum_post_is_open(user, post) -> bool:
    return post is not None and not post.is_locked


@rules.predicate
def is_forum_author(user, obj) -> bool:
    """The author of a forum post or reply."""
    return obj is not None and user.is_authenticated and obj.author_id == user.pk


@rules.predicate
def can_see_forum_reply(user, reply) -> bool:
    return reply is not None and can_see_forum_post(user, reply.post) and content_visible(user, reply)


@rules.predicate
def forum_reply_is_live(user, reply) -> bool:
    return reply is not None and reply.deleted_at is None


@rules.predicate
def forum_reply_channel_not_archived(user, reply) -> bool:
    return reply is not None and forum_post_channel_not_archived(user, reply.post)


@rules.predicate
def is_forum_post_author_of_reply(user, reply) -> bool:
    """The author of the topic a reply answers: the one who chooses its solution."""
    return reply is not None and is_forum_author(user, reply.post)


add_rules(
    {
        "community.read_forum": can_read_forum_channel,
        "community.view_forum_post": can_see_forum_post,
        # Who may reply is who may post in the channel (locked or read-only channels: staff), and only while
        # the topic itself is not locked (``forum_reply_create`` says which one refused).
        "community.reply_forum_post": (
            rules.is_authenticated & can_see_forum_post & forum_post_channel_accepts_posts & forum_post_is_open
        ),
        "community.change_forum_post": (
            can_see_forum_post & forum_post_channel_not_archived & (is_forum_author | rules.is_staff)
        ),
        "community.delete_forum_post": can_see_forum_post & (is_forum_author | rules.is_staff),
        "community.moderate_forum_post": can_see_forum_post & rules.is_staff,  # pin, lock
        "community.react_forum_post": rules.is_authenticated & can_see_forum_post & forum_post_channel_not_archived,
        "community.view_forum_reply": can_see_forum_reply,  # deleted ones too, as a tombstone in lists
        "community.read_forum_reply": can_see_forum_reply & forum_reply_is_live,
        "community.change_forum_reply": (
            can_see_forum_reply & forum_reply_is_live & forum_reply_channel_not_archived & (is_forum_author | rules.is_staff)
        ),
        "community.delete_forum_reply": can_see_forum_reply & forum_reply_is_live & (is_forum_author | rules.is_staff),
        "community.mark_forum_solution": (
            can_see_forum_reply & forum_reply_is_live & forum_reply_channel_not_archived
            & (is_forum_post_author_of_reply | rules.is_staff)
        ),
        "community.react_forum_reply": (
            rules.is_authenticated & can_see_forum_reply & forum_reply_is_live & forum_reply_channel_not_archived
        ),
        "community.preview_forum_text": rules.is_authenticated & rules.is_active,  # the composer's preview
    }
)


add_rules(
    {
        "community.view_channel": can_see_channel,
        "community.post_message": can_see_channel & channel_accepts_posts,
        "community.view_message": can_see_message,  # deleted ones too, as a tombstone in lists
        "community.read_message": can_see_message & message_is_live,  # the message itself and its edits
        "community.change_message": (
            can_see_message & message_is_live & message_channel_not_archived & (is_author | rules.is_staff)
        ),
        "community.delete_message": can_see_message & message_is_live & (is_author | rules.is_staff),
        "community.react_message": can_see_message & message_is_live & message_channel_not_archived,
        "community.upload_attachment": rules.is_authenticated & rules.is_active,
        "community.manage_channel": rules.is_staff,
        "community.purge_user_messages": rules.is_staff,
    }
)


def channel_capabilities(user, channel) -> dict:
    """What the user may do in a channel, for clients to show or hide controls (never to decide).

    Asked of the same rules as real messages, with a message of their own and one of someone else's,
    so a client applies these to messages that arrive live without re-deriving any rule.
    """
    from .models import Message

    own, others = Message(channel=channel, user=user), Message(channel=channel, user=None)
    return {
        "can_post": can(user, "community.post_message", channel),
        "can_react": can(user, "community.react_message", own),
        "can_edit_own": can(user, "community.change_message", own),
        "can_delete_own": can(user, "community.delete_message", own),
        "can_edit_any": can(user, "community.change_message", others),
        "can_delete_any": can(user, "community.delete_message", others),
    }


def message_capabilities(user, message) -> dict:
    return {
        "can_edit": can(user, "community.change_message", message),
        "can_delete": can(user, "community.delete_message", message),
        "can_react": can(user, "community.react_message", message),
    }


def forum_post_capabilities(user, post) -> dict:
    return {
        "can_reply": can(user, "community.reply_forum_post", post),
        "can_edit": can(user, "community.change_forum_post", post),
        "can_delete": can(user, "community.delete_forum_post", post),
        "can_react": can(user, "community.react_forum_post", post),
        "can_moderate": can(user, "community.moderate_forum_post", post),
    }


def forum_reply_capabilities(user, reply) -> dict:
    return {
        "can_edit": can(user, "community.change_forum_reply", reply),
        "can_delete": can(user, "community.delete_forum_reply", reply),
        "can_react": can(user, "community.react_forum_reply", reply),
        "can_mark_solution": can(user, "community.mark_forum_solution", reply),
    }
