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
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from agentwise.errors import Refusal

from . import events
from .models import (
    EMOJI_PATTERN,
    MAX_EMOJI_CHARS,
    MAX_MESSAGE_CHARS,
    Attachment,
    Channel,
    ChannelMember,
    ContentType,
    Message,
    MessageEdit,
    Reaction,
    ReadMarker,
)

MAX_ATTACHMENTS = 5
EMOJI_RE = re.compile(EMOJI_PATTERN)
ALLOWED_ATTACHMENT_TYPES = {  # type: the extension it is stored (and served) with
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "application/json": "json",
}
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


class NotFound(Http404):
    """Not visible to the actor; every door answers 404 (private channels do not leak)."""


def _require(actor, perm: str, obj, *, visible_perm: str, message: str) -> None:
    if not actor.has_perm(perm, obj):
        if not actor.has_perm(visible_perm, obj):
            raise NotFound()
        raise PermissionDenied(message)


def post_rate_check(actor) -> None:
    """Refuses with 429 ``rate_limited`` past N messages per window per user, across all their sockets."""
    limit = settings.COMMUNITY_POST_RATE["messages"]
    window = settings.COMMUNITY_POST_RATE["seconds"]
    bucket = int(timezone.now().timestamp()) // window
    key = f"community-rate:{actor.pk}:{bucket}"
    cache.add(key, 0, timeout=window * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=window * 2)
        count = 1
    if count > limit:
        raise Refusal(
            status_code=429,
            code="rate_limited",
            message=f"Slow down: at most {limit} messages per {window} seconds.",
            extra={"retry_after": window - int(timezone.now().timestamp()) % window},
        )


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
    _require(actor, "community.post_message", channel, visible_perm="community.view_channel",
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
            content=content,
            content_type=content_type,
            client_id=(client_id or "")[:64],
            attachments=[f.as_dict() for f in files],
            created_at=now,
        )
        if files:
            Attachment.objects.filter(pk__in=[f.pk for f in files]).update(message=message)
        if parent is not None:
            Message.objects.filter(pk=parent.pk).update(reply_count=F("reply_count") + 1, last_reply_at=now)
        transaction.on_commit(lambda: events.message_created(message))
    return message


@transaction.atomic
def message_edit(*, actor, message: Message, content: str) -> Message:
    """Changes the text, keeping the previous version in the visible edit history."""
    _require(actor, "community.change_message", message, visible_perm="community.view_message",
             message="You can only edit your own messages.")
    content = _clean_content(content, allow_empty=bool(message.attachments))
    if content == message.content:
        return message
    MessageEdit.objects.create(message=message, content=message.content, edited_by=actor)
    message.content = content
    message.edited_at = timezone.now()
    message.save(update_fields=["content", "edited_at"])
    transaction.on_commit(lambda: events.message_edited(message))
    return message


@transaction.atomic
def message_delete(*, actor, message: Message) -> Message:
    """Soft delete: the content disappears, the row (and its thread) stays."""
    _require(actor, "community.delete_message", message, visible_perm="community.view_message",
             message="You can only delete your own messages.")
    message.deleted_at = timezone.now()
    message.save(update_fields=["deleted_at"])
    transaction.on_commit(lambda: events.message_deleted(message))
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
    _require(actor, "community.react_message", message, visible_perm="community.view_message",
             message="Reactions are closed here.")
    emoji = _clean_emoji(emoji)
    with transaction.atomic():
        removed, _ = Reaction.objects.filter(message=message, user=actor, emoji=emoji).delete()
        added = False
        if not removed:
            try:
                with transaction.atomic():
                    Reaction.objects.create(message=message, user=actor, emoji=emoji)
                added = True
            except IntegrityError:
                added = True  # a concurrent toggle of the same user added it: it is there
        count = Reaction.objects.filter(message=message, emoji=emoji).count()
        transaction.on_commit(
            lambda: events.reaction_updated(message, emoji=emoji, count=count, user_id=actor.pk, added=added)
        )
    return added, count


def read_mark(*, actor, channel: Channel, seq: int, thread: Message | None = None) -> ReadMarker:
    """Moves the actor's read marker forward (never back) in a channel or a thread."""
    if not actor.has_perm("community.view_channel", channel):
        raise NotFound()
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


@transaction.atomic
def attachment_upload(*, actor, upload) -> Attachment:
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise Refusal(status_code=413, code="request_too_large",
                      message=f"Files are limited to {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.")
    content_type = _attachment_type(upload)
    name = (upload.name or "file").rsplit("/", 1)[-1][:255]
    attachment = Attachment(uploader=actor, name=name, size=upload.size, content_type=content_type)
    attachment.file.save(f"upload.{ALLOWED_ATTACHMENT_TYPES[content_type]}", upload, save=False)
    attachment.save()
    return attachment


@transaction.atomic
def channel_member_add(*, actor, channel: Channel, user) -> ChannelMember:
    if not actor.has_perm("community.manage_channel", channel):
        raise PermissionDenied("Only staff manage channel members.")
    member, _ = ChannelMember.objects.get_or_create(channel=channel, user=user, defaults={"added_by": actor})
    return member


@transaction.atomic
def channel_member_remove(*, actor, channel: Channel, user) -> None:
    if not actor.has_perm("community.manage_channel", channel):
        raise PermissionDenied("Only staff manage channel members.")
    ChannelMember.objects.filter(channel=channel, user=user).delete()


@transaction.atomic
def user_messages_purge(*, actor, user, since=None) -> int:
    """Staff remove every recent message of a spammer in one action (soft delete, broadcast to all)."""
    if not actor.has_perm("community.purge_user_messages"):
        raise PermissionDenied("Only staff can remove a user's messages.")
    since = since or timezone.now() - timedelta(days=7)
    messages = list(Message.objects.filter(user=user, created_at__gte=since, deleted_at__isnull=True))
    now = timezone.now()
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(deleted_at=now)
    for message in messages:
        message.deleted_at = now

    def after_commit():
        for message in messages:
            events.message_deleted(message)

    transaction.on_commit(after_commit)
    return len(messages)
