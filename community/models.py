"""Community: channels, members, messages (threads, edits, soft delete), reactions, attachments, read markers."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

MAX_MESSAGE_CHARS = 4000
MAX_EMOJI_CHARS = 16

# One emoji as people type them: a pictograph with its modifiers (variation selector, skin tone,
# keycap, tag), a flag (two regional indicators), or a ZWJ sequence (👩‍💻); never two emoji. The same text is the
# API schema's pattern, so what a client reads there is exactly what is accepted; it holds the
# characters themselves (Python escapes): JSON Schema's regex dialect has no \U escape.
_EMOJI_BASE = (
    "[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf"
    "\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]"
)
_EMOJI_MODIFIER = "[\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]"
_EMOJI_UNIT = f"(?:{_EMOJI_BASE}{_EMOJI_MODIFIER}*|[#*0-9]\ufe0f?\u20e3)"
_EMOJI_FLAG = "[\U0001f1e6-\U0001f1ff]{2}"
EMOJI_PATTERN = f"^(?:{_EMOJI_FLAG}|{_EMOJI_UNIT}(?:\u200d{_EMOJI_UNIT}){{0,3}})$"


class ChannelType(models.TextChoices):
    TEXT = "text", "Text"
    VOICE = "voice", "Voice"
    FORUM = "forum", "Forum"


class ChannelState(models.TextChoices):
    OPEN = "open", "Open"
    READ_ONLY = "read_only", "Read-only (staff post)"
    ARCHIVED = "archived", "Archived"


class Channel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    category = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=50, choices=ChannelType.choices, default=ChannelType.TEXT)
    is_private = models.BooleanField(default=False, help_text="Only members (managed by staff) see and post.")
    is_locked = models.BooleanField(default=False, help_text="Only staff post.")
    state = models.CharField(max_length=20, choices=ChannelState.choices, default=ChannelState.OPEN)
    position = models.IntegerField(default=0)
    permissions = models.JSONField(default=dict, blank=True)
    last_seq = models.BigIntegerField(default=0, editable=False, help_text="Sequence number of the newest message.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "community_channels"
        ordering = ["category", "position", "name"]
        indexes = [models.Index(fields=["category", "position", "name"], name="community_channel_sidebar")]

    def __str__(self) -> str:
        return f"#{self.name}"


class ChannelMember(models.Model):
    """Membership of a private channel (public channels need none)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_memberships")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "user"], name="community_member_unique",
                violation_error_message="This person is already a member of this channel.",
            )
        ]
        indexes = [models.Index(fields=["user", "channel"], name="community_member_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.channel}"


class ContentType(models.TextChoices):
    TEXT = "text", "Text"
    CODE = "code", "Code"
    IMAGE = "image", "Image"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="messages")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    seq = models.BigIntegerField(help_text="Per-channel sequence number: gaps tell a client it missed something.")
    content = models.TextField(max_length=MAX_MESSAGE_CHARS)
    content_type = models.CharField(max_length=50, choices=ContentType.choices, default=ContentType.TEXT)
    attachments = models.JSONField(default=list, blank=True, help_text="Snapshot of the attached files.")
    client_id = models.CharField(max_length=64, blank=True, help_text="The sender's id for the optimistic copy.")
    reply_count = models.PositiveIntegerField(default=0)
    last_reply_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "messages"
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["channel", "seq"], name="messages_channel_seq_unique")]
        indexes = [
            models.Index(fields=["channel", "parent", "seq"], name="messages_channel_root_seq"),
            models.Index(fields=["parent", "seq"], name="messages_thread_seq"),
            models.Index(fields=["user", "created_at"], name="messages_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}#{self.seq}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class MessageEdit(models.Model):
    """The text a message had before an edit; readers can see the history."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    content = models.TextField()
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["edited_at"]

    def __str__(self) -> str:
        return f"edit of {self.message_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class Reaction(models.Model):
    """One row per (message, user, emoji): concurrent toggles can never lose or double a reaction."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reaction_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="community_reaction_unique",
                violation_error_message="You already reacted with this emoji.",
            )
        ]
        indexes = [models.Index(fields=["message", "emoji"], name="community_reaction_message")]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


ATTACHMENT_EXTENSIONS = {  # the type a file was detected as: the extension it is stored and served with
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "application/json": "json",
}


def attachment_url(attachment_id, content_type: str) -> str:
    """Files are served by an access-checked view, never straight from /media/."""
    from django.urls import reverse

    return reverse("community_attachment", kwargs={"attachment_id": attachment_id, "extension": ATTACHMENT_EXTENSIONS.get(content_type, "bin")})


def attachment_upload_to(attachment: Attachment, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"attachments/{attachment.uploader_id}/{uuid.uuid4().hex}.{ext}"


class Attachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=attachment_upload_to)
    name = models.CharField(max_length=255)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} ({self.size:,} bytes)"

    def as_dict(self) -> dict:
        return {
            "id": str(self.id),
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
            "url": attachment_url(self.id, self.content_type),
        }

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class ReadMarker(models.Model):
    """The last sequence number a user has read in a channel (thread empty) or in one thread."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="read_markers")
    thread = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    last_read_seq = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel"], condition=models.Q(thread__isnull=True), name="community_marker_channel"
            ),
            models.UniqueConstraint(
                fields=["user", "thread"], condition=models.Q(thread__isnull=False), name="community_marker_thread"
            ),
        ]

    def __str__(self) -> str:
        where = f"thread {self.thread_id}" if self.thread_id else f"channel {self.channel_id}"
        return f"{self.user_id} read {where} up to {self.last_read_seq}"
