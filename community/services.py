"""Writes for the community. The websocket consumer, the REST API, the pages and the admin call these.

Each write checks ``community/permissions.py``, saves in one transaction, and broadcasts only after
commit, so a frame never announces something that was rolled back.
"""

from __future__ import annotations

import mimetypes
import re
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from agentwise.access import can, require
from agentwise.errors import Refusal
from agentwise.ratelimits import rate_limit_hit
from moderation import gate, sanctions
from moderation.audit import audit_record

from . import events, mentions
from .models import (
    ATTACHMENT_EXTENSIONS,
    EMOJI_PATTERN,
    FORUM_TAG_PATTERN,
    MAX_EMOJI_CHARS,
    MAX_FORUM_CONTENT_CHARS,
    MAX_FORUM_TAG_CHARS,
    MAX_FORUM_TAGS,
    MAX_FORUM_TITLE_CHARS,
    MAX_MESSAGE_CHARS,
    Attachment,
    Channel,
    ChannelMember,
    ChannelType,
    ContentType,
    ForumPost,
    ForumPostEdit,
    ForumPostTag,
    ForumReaction,
    ForumReply,
    Message,
    MessageEdit,
    ModerationState,
    Reaction,
    ReadMarker,
)
from .search import forum_post_index

MAX_ATTACHMENTS = 5
EMOJI_RE = re.compile(EMOJI_PATTERN)
ALLOWED_ATTACHMENT_TYPES = ATTACHMENT_EXTENSIONS
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
UNATTACHED_UPLOAD_TTL = timedelta(hours=24)
# Bidirectional-text controls: a name like "invoice\u202egpj.exe" must not display as "invoiceexe.jpg".
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _write_limit(name: str, actor) -> None:
    """Members' edits and deletes are limited per minute; staff moderating (bulk deletes in the admin)
    draw from their own, larger budget."""
    rate_limit_hit("community.moderation" if actor.is_staff else name, actor.pk)


def post_rate_check(actor) -> None:
    """Refuses with 429 ``rate_limited`` past N messages per window per user, across all their sockets.
    The author's sanctions and new-user limits are ``moderation.gate.screen_post``'s, called next."""
    limit = settings.COMMUNITY_POST_RATE["messages"]
    window = settings.COMMUNITY_POST_RATE["seconds"]
    rate_limit_hit(
        "community.message", actor.pk, rate=f"{limit} per {window} seconds",
        message=f"Slow down: at most {limit} messages per {window} seconds.",
    )


def _moderator_removal(actor, content_type: str, obj, author) -> None:
    """Staff deleting someone else's content is a moderation decision (recorded, audited), whichever door."""
    from moderation.reports import removal_record

    removal_record(actor=actor, content_type=content_type, content_id=obj.pk, author=author)


def _clean_content(content, *, allow_empty: bool = False) -> str:
    if not isinstance(content, str):
        raise ValidationError({"content": "Must be a string."})
    content = content.replace("\x00", "").strip()
    if not content and not allow_empty:
        raise ValidationError({"content": "A message cannot be empty."})
    if len(content) > MAX_MESSAGE_CHARS:
        raise ValidationError({"content": f"At most {MAX_MESSAGE_CHARS} characters (this one has {len(content)})."})
    return content


def _next_seq(channel: Channel) -> int:
    # The UPDATE locks the channel row until commit, so sequence numbers are gapless and ordered.
    Channel.objects.filter(pk=channel.pk).update(last_seq=F("last_seq") + 1)
    return Channel.objects.filter(pk=channel.pk).values_list("last_seq", flat=True).get()


def message_post(
    *,
    actor,
    channel: Channel,
    content: str,
    content_type: str = ContentType.TEXT,
    parent: Message | None = None,
    client_id: str = "",
    attachment_ids=(),
) -> Message:
    """Saves a message (or a thread reply) with the channel's next sequence number, then broadcasts it."""
    require(actor, "community.post_message", channel, hidden_unless="community.view_channel",
            message="Only staff can post in this channel." if channel.is_locked else "This channel does not accept posts.")
    if content_type not in ContentType.values:
        raise ValidationError({"content_type": f"One of {', '.join(ContentType.values)}."})
    if len(attachment_ids) > MAX_ATTACHMENTS:
        raise ValidationError({"attachments": f"At most {MAX_ATTACHMENTS} files per message."})
    content = _clean_content(content, allow_empty=bool(attachment_ids))
    if parent is not None:
        if parent.channel_id != channel.pk:
            raise ValidationError({"parent": "The parent message is in another channel."})
        if parent.parent_id is not None:
            raise ValidationError({"parent": "Reply to the thread's first message."})
    post_rate_check(actor)
    screened = gate.screen_post(actor=actor, text=content, field="content", surface="message")
    visible = screened.state == ModerationState.VISIBLE
    with transaction.atomic():
        files = []
        if attachment_ids:
            files = list(
                Attachment.objects.select_for_update().filter(pk__in=list(attachment_ids), uploader=actor, message__isnull=True)
            )
            if len(files) != len(set(attachment_ids)):
                raise ValidationError({"attachments": "Unknown or already used attachment."})
        now = timezone.now()
        message = Message.objects.create(
            channel=channel,
            user=actor,
            parent=parent,
            seq=_next_seq(channel),
            content=screened.text,
            moderation_state=screened.state,
            content_type=content_type,
            client_id=(client_id or "")[:64],
            attachments=[f.as_dict() for f in files],
            created_at=now,
        )
        if files:
            Attachment.objects.filter(pk__in=[f.pk for f in files]).update(message=message)
        gate.flag_after_save(screened=screened, content_type="message", content_id=message.pk, author=actor)
        # A thread's reply count is what everyone sees: a reply only its author sees does not move it.
        if parent is not None and visible:
            Message.objects.filter(pk=parent.pk).update(reply_count=F("reply_count") + 1, last_reply_at=now)
        transaction.on_commit(lambda: events.message_created(message))
        if visible:  # nobody hears of content moderation keeps from them
            mentions.mentions_notify(
                actor=actor, text=screened.text, place=channel, rule="community.view_channel",
                title=f"@{actor.username} mentioned you in #{channel.name}", url="/community/",
            )
    return message


def message_edit(*, actor, message: Message, content: str) -> Message:
    """Changes the text, keeping the previous version in the visible edit history.

    The row is locked first: an edit racing a delete never brings the content back, and two
    concurrent edits both land in the history, each recording the text it replaced.
    """
    with transaction.atomic():
        message = _checked_and_locked(actor, "community.change_message", message, limit="community.edit",
                                      refused="You can only edit your own messages.")
        content = _clean_content(content, allow_empty=bool(message.attachments))
        if content == message.content:
            return message
        screened = gate.screen_post(actor=actor, text=content, field="content", surface="message")
        state = gate.state_after_edit(message.moderation_state, screened)
        if screened.text == message.content and state == message.moderation_state:
            return message  # the same text once masked: nothing changes
        MessageEdit.objects.create(message=message, content=message.content, edited_by=actor)
        if state == ModerationState.VISIBLE:
            mentions.mentions_notify(
                actor=actor, text=screened.text, previous_text=message.content, place=message.channel,
                rule="community.view_channel", title=f"@{actor.username} mentioned you in #{message.channel.name}",
                url="/community/",
            )
        was_visible = message.moderation_state == ModerationState.VISIBLE
        message.content = screened.text
        message.moderation_state = state
        message.edited_at = timezone.now()
        message.save(update_fields=["content", "moderation_state", "edited_at"])
        if message.parent_id is not None and was_visible != (state == ModerationState.VISIBLE):
            _thread_recount(message.parent_id)  # a thread's count is what everyone sees
        gate.flag_after_save(screened=screened, content_type="message", content_id=message.pk, author=message.user)
        transaction.on_commit(lambda: events.message_edited(message))
    return message


def message_delete(*, actor, message: Message) -> Message:
    """Soft delete: the content disappears, the row (and its thread) stays; its files go with the
    next attachment sweep and are 404 from now on."""
    with transaction.atomic():
        message = _checked_and_locked(actor, "community.delete_message", message, limit="community.delete",
                                      refused="You can only delete your own messages.")
        _moderator_removal(actor, "message", message, message.user)
        message.deleted_at = timezone.now()
        message.save(update_fields=["deleted_at"])
        transaction.on_commit(lambda: events.message_deleted(message))
    return message


def _thread_recount(parent_id) -> None:
    """A thread's ``reply_count`` and ``last_reply_at`` from its replies everyone sees (a deleted reply stays
    counted, as ``message_delete`` leaves its tombstone in the thread). The parent row is locked first, so a
    concurrent ``message_post`` (which bumps the count under the same lock) is either counted or adds after."""
    list(Message.objects.select_for_update(no_key=True).filter(pk=parent_id).values_list("pk", flat=True))
    seen = Message.objects.filter(parent_id=parent_id, moderation_state=ModerationState.VISIBLE)
    aggregate = seen.aggregate(last=Max("created_at"))
    Message.objects.filter(pk=parent_id).update(reply_count=seen.count(), last_reply_at=aggregate["last"])


def _content_locked(obj):
    """Re-reads a message, topic or reply under a row lock (a reply's topic first, as the forum services do)."""
    if isinstance(obj, Message):
        return Message.objects.select_for_update(of=("self",)).select_related("channel", "user", "user__profile").get(pk=obj.pk)
    if isinstance(obj, ForumReply):
        list(ForumPost.objects.select_for_update().filter(pk=obj.post_id).values_list("pk", flat=True))
        related = ("post", "post__channel", "author", "author__profile")
        return ForumReply.objects.select_for_update(of=("self",)).select_related(*related).get(pk=obj.pk)
    if isinstance(obj, ForumPost):
        return ForumPost.objects.select_for_update(of=("self",)).select_related("channel", "author", "author__profile").get(pk=obj.pk)
    raise TypeError(f"No moderation state on {type(obj).__name__}.")


def content_moderation_state_set(*, actor, obj, state: str, from_states=None) -> bool:
    """Moves a message, topic or reply to moderation ``state`` (staff deciding, or ``actor=None`` for the
    system's auto-hide), with every side effect of the content appearing or going away for others:

    - the counters everyone sees: a forum topic's ``reply_count``/``last_reply_at`` for a reply, a chat
      thread's for a thread reply;
    - the topic's search vector (a reply's text finds the topic only while visible);
    - frames after commit: content becoming visible goes out as new (``message:new``, ``forum:reply``) to
      the sockets that could not see it before (everyone but its author and staff); content going away
      goes to those sockets as deleted (``message:deleted``, a ``forum:reply_updated`` tombstone). Its
      author and staff saw it all along, and still do: they get no frame. A topic has no live frames.

    Only from ``from_states`` when given (a concurrent decision may have moved it). Returns whether the
    state changed."""
    if state not in ModerationState.values:
        raise ValidationError({"state": f"One of {', '.join(ModerationState.values)}."})
    if actor is not None:
        require(actor, "moderation.moderate_content", message="Only staff moderate content.")
    with transaction.atomic():
        obj = _content_locked(obj)
        before = obj.moderation_state
        if before == state or (from_states is not None and before not in from_states):
            return False
        obj.moderation_state = state
        obj.save(update_fields=["moderation_state"])
        was_visible, visible = before == ModerationState.VISIBLE, state == ModerationState.VISIBLE
        if was_visible == visible:
            return True  # between states others never see: nothing changes for them
        deleted = getattr(obj, "deleted_at", None) is not None
        if isinstance(obj, Message):
            if obj.parent_id is not None:
                _thread_recount(obj.parent_id)
            if not deleted:
                transaction.on_commit(lambda: events.message_shown(obj) if visible else events.message_gone(obj))
        elif isinstance(obj, ForumReply):
            _forum_post_recount(obj.post_id)
            forum_post_index(obj.post_id)
            if not deleted:
                transaction.on_commit(lambda: events.forum_reply_shown(obj) if visible else events.forum_reply_gone(obj))
    return True


def _checked_and_locked(actor, rule: str, message: Message, *, limit: str, refused: str) -> Message:
    """Checks the rule and counts the write, then re-reads the message under a row lock and checks
    again: a concurrent delete or edit may have changed what the rule sees. Call inside a transaction."""
    require(actor, rule, message, hidden_unless="community.read_message", message=refused)
    _write_limit(limit, actor)
    locked = Message.objects.select_for_update(of=("self",)).select_related("channel", "user", "user__profile")
    message = locked.get(pk=message.pk)
    require(actor, rule, message, hidden_unless="community.read_message", message=refused)
    return message


def _clean_emoji(emoji) -> str:
    if not isinstance(emoji, str):
        raise ValidationError({"emoji": "Must be a string."})
    emoji = emoji.strip()
    if len(emoji) > MAX_EMOJI_CHARS or not EMOJI_RE.fullmatch(emoji):
        raise ValidationError({"emoji": "One emoji, e.g. 👍."})
    return emoji


def reaction_toggle(*, actor, message: Message, emoji: str) -> tuple[bool, int]:
    """Adds the actor's reaction, or removes it if present. Returns (added, new count for that emoji)."""
    require(actor, "community.react_message", message, hidden_unless="community.read_message",
            message="Reactions are closed here.")
    emoji = _clean_emoji(emoji)
    rate_limit_hit("community.reaction", actor.pk)
    with transaction.atomic():
        removed, _ = Reaction.objects.filter(message=message, user=actor, emoji=emoji).delete()
        added = False
        if not removed:
            try:
                with transaction.atomic():
                    Reaction.objects.create(message=message, user=actor, emoji=emoji)
            except IntegrityError:
                pass  # a concurrent toggle of the same user added it (and notifies): it is there
            else:
                mentions.reaction_notify(
                    actor=actor, author=message.user, target=f"message:{message.pk}", place=message,
                    rule="community.read_message", subject=f"reacted to your message in #{message.channel.name}",
                    url="/community/", body=message.content,
                )
            added = True
        count = Reaction.objects.filter(message=message, emoji=emoji).count()
        transaction.on_commit(
            lambda: events.reaction_updated(message, emoji=emoji, count=count, user_id=actor.pk, added=added)
        )
    return added, count


def read_mark(*, actor, channel: Channel, seq: int, thread: Message | None = None) -> ReadMarker:
    """Moves the actor's read marker forward (never back) in a channel or a thread."""
    require(actor, "community.view_channel", channel, hidden_unless="community.view_channel")
    if thread is not None and thread.channel_id != channel.pk:
        raise ValidationError({"thread": "Not a message of this channel."})
    seq = min(int(seq), channel.last_seq)
    with transaction.atomic():
        marker, _ = ReadMarker.objects.get_or_create(user=actor, channel=channel, thread=thread)
        ReadMarker.objects.filter(pk=marker.pk, last_read_seq__lt=seq).update(last_read_seq=seq)
    marker.refresh_from_db()
    return marker


_IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def _attachment_type(upload) -> str:
    """What the file is: images and PDFs by their bytes; text and JSON by the client's word.

    Neither the declared type nor the file name is trusted for what we serve back: the stored
    extension (hence the type /media/ serves it with) comes from this, so ``x.html`` sent as
    text/plain is kept and served as ``.txt``.
    """
    declared = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    if declared in {"", "application/octet-stream"}:
        declared = mimetypes.guess_type(upload.name or "")[0] or ""
    from PIL import Image

    try:
        with Image.open(upload) as image:
            detected = _IMAGE_FORMATS.get(image.format)
            image.verify()
    except Exception:
        detected = None
    upload.seek(0)
    head = upload.read(5)
    upload.seek(0)
    if detected is None and head == b"%PDF-":
        detected = "application/pdf"
    if detected:
        return detected
    if declared.startswith("image/"):
        raise ValidationError({"file": "This is not a valid PNG, JPEG, GIF or WebP image."})
    if declared == "application/pdf":
        raise ValidationError({"file": "This is not a PDF."})
    if declared in {"text/plain", "application/json"}:
        return declared
    raise ValidationError({"file": f"Allowed types: {', '.join(sorted(ALLOWED_ATTACHMENT_TYPES))}."})


def attachment_name(name: str) -> str:
    """A file name safe to show and to send back: no path, no bidirectional controls, no NUL."""
    name = (name or "file").replace("\x00", "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    name = _BIDI_CONTROLS.sub("_", name).strip()
    return name[:255] or "file"


def attachment_upload(*, actor, upload) -> Attachment:
    """Stores a file for the actor's next message. Counted against the hourly upload count and the
    daily byte quota; a file never attached is removed by ``attachments_sweep`` after a day."""
    require(actor, "community.upload_attachment", message="You cannot upload files.")
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise Refusal(status_code=413, code="request_too_large",
                      message=f"Files are limited to {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.",
                      extra={"limit": MAX_ATTACHMENT_BYTES})
    content_type = _attachment_type(upload)
    rate_limit_hit("community.upload", actor.pk)
    rate_limit_hit("community.upload_bytes", actor.pk, cost=max(1, upload.size),
                   message="You have reached today's upload quota; try again tomorrow.")
    with transaction.atomic():
        attachment = Attachment(uploader=actor, name=attachment_name(upload.name), size=upload.size, content_type=content_type)
        attachment.file.save(f"upload.{ALLOWED_ATTACHMENT_TYPES[content_type]}", upload, save=False)
        attachment.save()
    return attachment


def attachments_sweep(*, now=None) -> int:
    """Removes from storage the files of deleted messages, and uploads never attached within a day.
    Safe to run twice, and on several workers at once (a file already gone is skipped)."""
    now = now or timezone.now()
    stale = Attachment.objects.filter(message__deleted_at__isnull=False) | Attachment.objects.filter(
        message__isnull=True, created_at__lt=now - UNATTACHED_UPLOAD_TTL
    )
    removed = 0
    for attachment in stale.only("pk", "file").iterator(chunk_size=500):
        if Attachment.objects.filter(pk=attachment.pk).delete()[0]:
            attachment.file.delete(save=False)
            removed += 1
    return removed


def channel_member_add(*, actor, channel: Channel, user) -> ChannelMember:
    require(actor, "community.manage_channel", channel, message="Only staff manage channel members.")
    with transaction.atomic():
        member, created = ChannelMember.objects.get_or_create(channel=channel, user=user, defaults={"added_by": actor})
        if created:
            audit_record("channel_member.add", actor=actor, resource=channel, metadata={"user_id": user.pk})
    return member


def channel_member_remove(*, actor, channel: Channel, user) -> None:
    """Removes a member; their open sockets leave the channel at once (``channel:removed``)."""
    require(actor, "community.manage_channel", channel, message="Only staff manage channel members.")
    with transaction.atomic():
        removed, _ = ChannelMember.objects.filter(channel=channel, user=user).delete()
        if removed:
            audit_record("channel_member.remove", actor=actor, resource=channel, metadata={"user_id": user.pk})
            transaction.on_commit(lambda: events.channel_access_changed(channel.pk))


CHANNEL_FIELDS = ("name", "description", "category", "type", "is_private", "is_locked", "state", "position", "permissions")


def channel_update(*, actor, channel: Channel, data: dict) -> Channel:
    """Changes a channel's settings. Making it private (or closing it) re-decides every open socket's
    access to it at once, after commit."""
    require(actor, "community.manage_channel", channel, message="Only staff manage channels.")
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        was_private = locked.is_private
        changed = [field for field in CHANNEL_FIELDS if field in data and getattr(locked, field) != data[field]]
        for field in changed:
            setattr(locked, field, data[field])
        locked.full_clean()
        if changed:
            locked.save(update_fields=changed)
        if locked.is_private and not was_private:
            transaction.on_commit(lambda: events.channel_access_changed(locked.pk))
    return locked


def channel_create(*, actor, data: dict, members=()) -> Channel:
    require(actor, "community.manage_channel", message="Only staff manage channels.")
    with transaction.atomic():
        channel = Channel(**{field: data[field] for field in CHANNEL_FIELDS if field in data})
        channel.full_clean()
        channel.save()
        for user in members:
            ChannelMember.objects.create(channel=channel, user=user, added_by=actor)
    return channel


def user_messages_purge(*, actor, user, since=None) -> int:
    """Staff remove every recent message of a spammer in one action (soft delete, broadcast to all)."""
    require(actor, "community.purge_user_messages", message="Only staff can remove a user's messages.")
    since = since or timezone.now() - timedelta(days=7)
    with transaction.atomic():
        messages = list(Message.objects.select_for_update().filter(user=user, created_at__gte=since, deleted_at__isnull=True))
        now = timezone.now()
        Message.objects.filter(pk__in=[m.pk for m in messages]).update(deleted_at=now)
        for message in messages:
            message.deleted_at = now

        def after_commit():
            for message in messages:
                events.message_deleted(message)

        transaction.on_commit(after_commit)
    return len(messages)


def user_forum_content_purge(*, actor, user, since) -> dict:
    """Staff remove a user's recent forum topics (deleted with their replies) and replies (tombstones,
    counters recounted, broadcast) in one action; returns ``{"forum_posts": n, "forum_replies": n}``."""
    require(actor, "community.purge_user_messages", message="Only staff can remove a user's content.")
    with transaction.atomic():
        posts = list(ForumPost.objects.select_for_update().filter(author=user, created_at__gte=since).values_list("pk", flat=True))
        ForumPost.objects.filter(pk__in=posts).delete()
        replies = list(
            ForumReply.objects.select_for_update().filter(author=user, created_at__gte=since, deleted_at__isnull=True)
            .exclude(post_id__in=posts)
        )
        now = timezone.now()
        ForumReply.objects.filter(pk__in=[r.pk for r in replies]).update(deleted_at=now, is_solution=False)
        for post_id in {r.post_id for r in replies}:
            _forum_post_recount(post_id)
            forum_post_index(post_id)
        for reply in replies:
            reply.deleted_at, reply.is_solution = now, False

        def after_commit():
            for reply in replies:
                events.forum_reply_updated(reply)

        transaction.on_commit(after_commit)
    return {"forum_posts": len(posts), "forum_replies": len(replies)}


def typing_broadcast_allowed(*, actor, channel_id) -> bool:
    """At most one ``typing:start`` broadcast per user and channel per window (3 s), across sockets."""
    try:
        rate_limit_hit("community.typing", actor.pk, channel_id)
    except Refusal:
        return False
    return True


# --- Forum ---------------------------------------------------------------------------------------

FORUM_TAG_RE = re.compile(FORUM_TAG_PATTERN)
FORUM_VIEW_WINDOW_SECONDS = 3600
TOPIC_LOCKED_MESSAGE = "This topic is locked: it takes no new replies."


def _clean_forum_text(value, *, field: str, limit: int, empty: str) -> str:
    if not isinstance(value, str):
        raise ValidationError({field: "Must be a string."})
    value = value.replace("\x00", "").strip()
    if not value:
        raise ValidationError({field: empty})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit:,} characters (this one has {len(value):,})."})
    return value


def forum_tags_clean(tags) -> list[str]:
    """Lower-case slugs, each once, in the order given; at most MAX_FORUM_TAGS."""
    if tags is None:
        return []
    if not isinstance(tags, list | tuple):
        raise ValidationError({"tags": "A list of tags."})
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or len(tag) > MAX_FORUM_TAG_CHARS or not FORUM_TAG_RE.fullmatch(tag):
            raise ValidationError({"tags": f"Tags are letters, digits and single hyphens, up to {MAX_FORUM_TAG_CHARS} characters."})
        tag = tag.lower()
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_FORUM_TAGS:
        raise ValidationError({"tags": f"At most {MAX_FORUM_TAGS} tags."})
    return cleaned


def _forum_tags_save(post: ForumPost, tags: list[str]) -> None:
    """The tag rows follow ``post.tags``; call inside the transaction that saves the post."""
    ForumPostTag.objects.filter(post=post).exclude(tag__in=tags).delete()
    existing = set(ForumPostTag.objects.filter(post=post).values_list("tag", flat=True))
    ForumPostTag.objects.bulk_create([ForumPostTag(post=post, tag=tag) for tag in tags if tag not in existing])


def forum_post_create(*, actor, channel: Channel, title: str, content: str, tags=()) -> ForumPost:
    """Opens a topic in a forum channel; who may is who may post a chat message there."""
    require(actor, "community.post_message", channel, hidden_unless="community.view_channel",
            message="Only staff can post in this forum." if channel.is_locked else "This forum does not accept posts.")
    if channel.type != ChannelType.FORUM:
        raise ValidationError({"channel": "Not a forum channel: topics live in channels of type forum."})
    title = _clean_forum_text(title, field="title", limit=MAX_FORUM_TITLE_CHARS, empty="A topic needs a title.")
    content = _clean_forum_text(content, field="content", limit=MAX_FORUM_CONTENT_CHARS, empty="A topic cannot be empty.")
    tags = forum_tags_clean(list(tags))
    post_rate_check(actor)
    title_s, content_s, screened = _forum_post_screen(actor, title=title, content=content)
    with transaction.atomic():
        post = ForumPost.objects.create(channel=channel, author=actor, title=title_s.text, content=content_s.text,
                                        tags=tags, moderation_state=screened.state)
        _forum_tags_save(post, tags)
        forum_post_index(post.pk)
        gate.flag_after_save(screened=screened, content_type="forum_post", content_id=post.pk, author=actor)
        if screened.state == ModerationState.VISIBLE:
            mentions.mentions_notify(
                actor=actor, text=post.content, place=post, rule="community.view_forum_post",
                title=f"@{actor.username} mentioned you in “{post.title[:80]}”", url=post.get_absolute_url(),
            )
    return post


def _forum_post_screen(actor, *, title: str, content: str):
    """A topic's text and title through the gate: sanctions and new-user limits (a link in the title is
    refused on ``title``) and the rules, on both fields."""
    content_s = gate.screen_post(actor=actor, text=content, field="content", surface="forum_post")
    sanctions.new_user_link_check(actor=actor, text=title, field="title")
    title_s = gate.screen_text(actor=actor, text=title, field="title", surface="forum_post", can_hide=True)
    return title_s, content_s, gate.screened_combine(content_s, title_s)


def _forum_post_locked(actor, rule: str, post: ForumPost, *, refused: str) -> ForumPost:
    """Checks the rule, re-reads the post under a row lock and checks again (a concurrent change may
    have changed what the rule sees). Call inside a transaction."""
    require(actor, rule, post, hidden_unless="community.view_forum_post", message=refused)
    post = ForumPost.objects.select_for_update(of=("self",)).select_related("channel", "author", "author__profile").get(pk=post.pk)
    require(actor, rule, post, hidden_unless="community.view_forum_post", message=refused)
    return post


def forum_post_update(*, actor, post: ForumPost, data: dict) -> ForumPost:
    """Edits the title, text or tags (author or staff; the previous title and text go to the history),
    and pins or locks the topic (staff). Fields absent from ``data`` stay as they are."""
    with transaction.atomic():
        if "is_pinned" in data or "is_locked" in data:
            post = _forum_post_locked(actor, "community.moderate_forum_post", post,
                                      refused="Only staff pin or lock topics.")
        if {"title", "content", "tags"} & set(data) or not {"is_pinned", "is_locked"} & set(data):
            post = _forum_post_locked(actor, "community.change_forum_post", post,
                                      refused="You can only edit your own topics.")
            _write_limit("community.edit", actor)
        changed = []
        title = _clean_forum_text(data["title"], field="title", limit=MAX_FORUM_TITLE_CHARS,
                                  empty="A topic needs a title.") if "title" in data else post.title
        content = _clean_forum_text(data["content"], field="content", limit=MAX_FORUM_CONTENT_CHARS,
                                    empty="A topic cannot be empty.") if "content" in data else post.content
        if (title, content) != (post.title, post.content):
            title_s, content_s, screened = _forum_post_screen(actor, title=title, content=content)
            ForumPostEdit.objects.create(post=post, title=post.title, content=post.content, edited_by=actor)
            post.title, post.content, post.edited_at = title_s.text, content_s.text, timezone.now()
            post.moderation_state = gate.state_after_edit(post.moderation_state, screened)
            changed += ["title", "content", "edited_at", "moderation_state"]
            gate.flag_after_save(screened=screened, content_type="forum_post", content_id=post.pk, author=post.author)
        if "tags" in data:
            tags = forum_tags_clean(data["tags"])
            if tags != post.tags:
                post.tags = tags
                changed.append("tags")
                _forum_tags_save(post, tags)
        for flag in ("is_pinned", "is_locked"):
            if flag in data and bool(data[flag]) != getattr(post, flag):
                setattr(post, flag, bool(data[flag]))
                changed.append(flag)
        if changed:
            post.save(update_fields=[*changed, "updated_at"])
            if "content" in changed:
                forum_post_index(post.pk)
    return post


def forum_post_delete(*, actor, post: ForumPost) -> None:
    """Removes the topic with its replies (author or staff)."""
    with transaction.atomic():
        post = _forum_post_locked(actor, "community.delete_forum_post", post, refused="You can only delete your own topics.")
        _write_limit("community.delete", actor)
        _moderator_removal(actor, "forum_post", post, post.author)
        post.delete()


def forum_post_view_count(*, viewer, post: ForumPost) -> bool:
    """Counts a view, at most once per viewer and hour. Returns whether this one counted.

    The cache's add-if-absent claims the hour for this viewer (atomic in Redis and in the local cache),
    and the increment is one UPDATE, so concurrent views never lose or double a count.
    """
    if not viewer.is_authenticated:
        return False
    if not cache.add(f"forum:viewed:{post.pk}:{viewer.pk}", 1, timeout=FORUM_VIEW_WINDOW_SECONDS):
        return False
    ForumPost.objects.filter(pk=post.pk).update(view_count=F("view_count") + 1)
    post.view_count += 1
    return True


def _forum_post_recount(post_id) -> None:
    """``reply_count`` and ``last_reply_at`` from the live replies everyone sees, in one UPDATE (the post
    row lock is held)."""
    live = ForumReply.objects.filter(post_id=post_id, deleted_at__isnull=True, moderation_state=ModerationState.VISIBLE)
    aggregate = live.aggregate(last=Max("created_at"))
    ForumPost.objects.filter(pk=post_id).update(reply_count=live.count(), last_reply_at=aggregate["last"])


def forum_reply_create(*, actor, post: ForumPost, content: str) -> ForumReply:
    """Answers a topic. The topic row is locked first, so a reply never slips in after a lock and the
    counters move in the same order as the replies."""
    content = _clean_forum_text(content, field="content", limit=MAX_FORUM_CONTENT_CHARS, empty="A reply cannot be empty.")
    with transaction.atomic():
        require(actor, "community.view_forum_post", post, hidden_unless="community.view_forum_post")
        post = ForumPost.objects.select_for_update(of=("self",)).select_related("channel").get(pk=post.pk)
        if not can(actor, "community.reply_forum_post", post):
            if post.is_locked and can(actor, "community.view_forum_post", post):
                raise Refusal(TOPIC_LOCKED_MESSAGE, status_code=403, code="topic_locked")
            require(actor, "community.reply_forum_post", post, hidden_unless="community.view_forum_post",
                    message="Only staff can reply in this forum." if post.channel.is_locked else "This forum does not accept replies.")
        post_rate_check(actor)
        screened = gate.screen_post(actor=actor, text=content, field="content", surface="forum_reply")
        visible = screened.state == ModerationState.VISIBLE
        now = timezone.now()
        reply = ForumReply.objects.create(post=post, author=actor, content=screened.text, created_at=now,
                                          moderation_state=screened.state)
        if visible:  # the counters are what everyone sees
            ForumPost.objects.filter(pk=post.pk).update(reply_count=F("reply_count") + 1, last_reply_at=now)
        forum_post_index(post.pk)
        gate.flag_after_save(screened=screened, content_type="forum_reply", content_id=reply.pk, author=actor)
        transaction.on_commit(lambda: events.forum_reply_created(reply))
        if visible:  # nobody hears of content moderation keeps from them
            url = post.get_absolute_url()  # the topic page (community.forum_views)
            mentions.people_notify(
                actor=actor, people=[post.author], kind="forum_reply", place=post, rule="community.view_forum_post",
                title=f"@{actor.username} replied to “{post.title[:80]}”", url=url, body=reply.content,
            )
            mentions.mentions_notify(
                actor=actor, text=reply.content, place=post, rule="community.view_forum_post",
                title=f"@{actor.username} mentioned you in “{post.title[:80]}”", url=url, skip=[post.author],
            )
    return reply


def _forum_reply_locked(actor, rule: str, reply: ForumReply, *, refused: str) -> ForumReply:
    """As ``_checked_and_locked`` for messages: check, lock the reply's topic then the reply, check again."""
    require(actor, rule, reply, hidden_unless="community.read_forum_reply", message=refused)
    list(ForumPost.objects.select_for_update().filter(pk=reply.post_id).values_list("pk", flat=True))
    locked = ForumReply.objects.select_for_update(of=("self",)).select_related("post", "post__channel", "author", "author__profile")
    reply = locked.get(pk=reply.pk)
    require(actor, rule, reply, hidden_unless="community.read_forum_reply", message=refused)
    return reply


def forum_reply_edit(*, actor, reply: ForumReply, content: str) -> ForumReply:
    content = _clean_forum_text(content, field="content", limit=MAX_FORUM_CONTENT_CHARS, empty="A reply cannot be empty.")
    with transaction.atomic():
        reply = _forum_reply_locked(actor, "community.change_forum_reply", reply, refused="You can only edit your own replies.")
        _write_limit("community.edit", actor)
        if content != reply.content:
            screened = gate.screen_post(actor=actor, text=content, field="content", surface="forum_reply")
            was_visible = reply.moderation_state == ModerationState.VISIBLE
            reply.content, reply.edited_at = screened.text, timezone.now()
            reply.moderation_state = gate.state_after_edit(reply.moderation_state, screened)
            reply.save(update_fields=["content", "moderation_state", "edited_at"])
            if was_visible and reply.moderation_state != ModerationState.VISIBLE:
                _forum_post_recount(reply.post_id)
            forum_post_index(reply.post_id)
            gate.flag_after_save(screened=screened, content_type="forum_reply", content_id=reply.pk, author=reply.author)
            transaction.on_commit(lambda: events.forum_reply_updated(reply))
    return reply


def forum_reply_delete(*, actor, reply: ForumReply) -> ForumReply:
    """Soft delete: the reply stays as a tombstone, stops being the solution, and the topic's counters are recounted."""
    with transaction.atomic():
        reply = _forum_reply_locked(actor, "community.delete_forum_reply", reply, refused="You can only delete your own replies.")
        _write_limit("community.delete", actor)
        _moderator_removal(actor, "forum_reply", reply, reply.author)
        reply.deleted_at, reply.is_solution = timezone.now(), False
        reply.save(update_fields=["deleted_at", "is_solution"])
        _forum_post_recount(reply.post_id)
        forum_post_index(reply.post_id)
        transaction.on_commit(lambda: events.forum_reply_updated(reply))
    return reply


def forum_solution_mark(*, actor, reply: ForumReply) -> ForumReply:
    """Makes this reply the topic's one solution (the topic's author or staff), replacing any other."""
    with transaction.atomic():
        reply = _forum_reply_locked(actor, "community.mark_forum_solution", reply,
                                    refused="Only the topic's author or staff choose its solution.")
        if not reply.is_solution:
            previous = list(ForumReply.objects.filter(post_id=reply.post_id, is_solution=True).select_related("author", "author__profile"))
            ForumReply.objects.filter(pk__in=[p.pk for p in previous]).update(is_solution=False)
            reply.is_solution = True
            reply.save(update_fields=["is_solution"])
            for old in previous:
                old.is_solution = False
            transaction.on_commit(lambda: events.forum_replies_updated([*previous, reply]))
            post = reply.post
            mentions.people_notify(
                actor=actor, people=[post.author, reply.author], kind="forum_solution", place=post,
                rule="community.view_forum_post", title=f"A solution was chosen for “{post.title[:80]}”",
                url=post.get_absolute_url(), body=reply.content,
            )
    return reply


def forum_solution_unmark(*, actor, reply: ForumReply) -> ForumReply:
    with transaction.atomic():
        reply = _forum_reply_locked(actor, "community.mark_forum_solution", reply,
                                    refused="Only the topic's author or staff choose its solution.")
        if reply.is_solution:
            reply.is_solution = False
            reply.save(update_fields=["is_solution"])
            transaction.on_commit(lambda: events.forum_reply_updated(reply))
    return reply


def forum_preview_render(*, actor, content: str) -> str:
    """The composer's preview: ``content`` rendered exactly as a saved topic or reply would show it
    (highlighting and mention links included). Saves nothing; rate-limited, as rendering costs CPU."""
    from .markup import forum_html

    require(actor, "community.preview_forum_text")
    if len(content) > MAX_FORUM_CONTENT_CHARS:
        raise ValidationError({"content": f"At most {MAX_FORUM_CONTENT_CHARS:,} characters (this one has {len(content):,})."})
    rate_limit_hit("community.preview", actor.pk)
    return forum_html(content)


def forum_reaction_toggle(*, actor, target: ForumPost | ForumReply, emoji: str) -> tuple[bool, int]:
    """As ``reaction_toggle`` for chat, on a topic or a reply. Returns (added, new count for that emoji)."""
    is_post = isinstance(target, ForumPost)
    if is_post:
        require(actor, "community.react_forum_post", target, hidden_unless="community.view_forum_post",
                message="Reactions are closed here.")
    else:
        require(actor, "community.react_forum_reply", target, hidden_unless="community.read_forum_reply",
                message="Reactions are closed here.")
    emoji = _clean_emoji(emoji)
    rate_limit_hit("community.reaction", actor.pk)
    on = {"post": target, "reply": None} if is_post else {"post": None, "reply": target}
    with transaction.atomic():
        removed, _ = ForumReaction.objects.filter(**on, user=actor, emoji=emoji).delete()
        added = False
        if not removed:
            try:
                with transaction.atomic():
                    ForumReaction.objects.create(**on, user=actor, emoji=emoji)
            except IntegrityError:
                pass  # a concurrent toggle of the same user added it (and notifies): it is there
            else:
                _forum_reaction_notify(actor=actor, target=target)
            added = True
        count = ForumReaction.objects.filter(**on, emoji=emoji).count()
    return added, count


def _forum_reaction_notify(*, actor, target: ForumPost | ForumReply) -> None:
    """Tells the topic's or the reply's author, grouped per target, if they can still see it."""
    if isinstance(target, ForumPost):
        post, author, rule, what = target, target.author, "community.view_forum_post", "topic"
    else:
        post, author, rule, what = target.post, target.author, "community.read_forum_reply", "reply in"
    mentions.reaction_notify(
        actor=actor, author=author, target=f"{type(target).__name__.lower()}:{target.pk}", place=target, rule=rule,
        subject=f"reacted to your {what} “{post.title[:80]}”", url=post.get_absolute_url(), body=target.content,
    )


# --- Account deletion -------------------------------------------------------------------------------


def user_content_forget(*, user, remove_content: bool) -> dict:
    """What a deleted account leaves in the community, in the caller's transaction (``accounts.deletion``).

    Always: its uploads go (rows now, files from storage after commit, returned as ``files``), so messages
    keep no snapshot of them. With ``remove_content``: its messages and replies become tombstones as a
    deleted message does (no content, no edit history), and its topics keep their place (others' replies
    stay) with no title or text. Otherwise what it wrote stays; the author shows as "deleted user" once the
    user row is gone (the author keys are SET_NULL). Broadcasts after commit.
    """
    now = timezone.now()
    attachments = list(Attachment.objects.filter(uploader=user).only("pk", "file"))
    files = [a.file.name for a in attachments if a.file]
    Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()
    Message.objects.filter(user=user).exclude(attachments=[]).update(attachments=[])
    counts = {"messages": 0, "forum_posts": 0, "forum_replies": 0, "files": files}
    if not remove_content:
        return counts
    messages = list(Message.objects.select_for_update().filter(user=user))
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(content="", deleted_at=now, client_id="")
    MessageEdit.objects.filter(message__in=[m.pk for m in messages]).delete()
    live = [m for m in messages if m.deleted_at is None]
    for message in live:
        message.deleted_at, message.content = now, ""
    replies = list(ForumReply.objects.select_for_update().filter(author=user))
    ForumReply.objects.filter(pk__in=[r.pk for r in replies]).update(content="", deleted_at=now, is_solution=False)
    posts = list(ForumPost.objects.select_for_update().filter(author=user).values_list("pk", flat=True))
    ForumPost.objects.filter(pk__in=posts).update(title=DELETED_TOPIC_TITLE, content="", tags=[], metadata={})
    ForumPostTag.objects.filter(post_id__in=posts).delete()
    ForumPostEdit.objects.filter(post_id__in=posts).delete()
    for post_id in {r.post_id for r in replies} | set(posts):
        _forum_post_recount(post_id)
        forum_post_index(post_id)
    for reply in replies:
        # Broadcast after commit, when the author row is gone: shown as "deleted user", never loaded again.
        reply.deleted_at, reply.is_solution, reply.content, reply.author = now, False, "", None

    def after_commit():
        for message in live:
            events.message_deleted(message)
        for reply in replies:
            events.forum_reply_updated(reply)

    transaction.on_commit(after_commit)
    counts.update(messages=len(messages), forum_posts=len(posts), forum_replies=len(replies))
    return counts


DELETED_TOPIC_TITLE = "[deleted]"
