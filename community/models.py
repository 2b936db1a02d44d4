"""Community: channels, members, messages (threads, edits, soft delete), reactions, attachments, read markers; forum topics and replies."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
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


class ModerationState(models.TextChoices):
    """Who sees a message, topic or reply besides its author and staff (``community.permissions``).
    Set by ``moderation`` only: content rules (shadowban, require approval) and reports (hidden)."""

    VISIBLE = "visible", "Visible"
    SHADOWED = "shadowed", "Shadowed (its author alone sees it)"
    PENDING = "pending", "Held for approval"
    HIDDEN = "hidden", "Hidden until reviewed (reported)"


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
    moderation_state = models.CharField(
        max_length=10, choices=ModerationState.choices, default=ModerationState.VISIBLE, db_index=True
    )
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


# --- Forum -------------------------------------------------------------------------------------
# Topics (posts) and replies living in channels of type ``forum``, under the same visibility rules
# as chat. Vocabulary defined once here; services, serializers and the schema derive from it.

MAX_FORUM_TITLE_CHARS = 255
MAX_FORUM_CONTENT_CHARS = 20000
MAX_FORUM_TAGS = 5
MAX_FORUM_TAG_CHARS = 32
# What a client may send (any case); stored lower-case. No lookahead: the schema states this pattern.
FORUM_TAG_PATTERN = r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$"


class ForumPost(models.Model):
    """A forum topic. ``reply_count``/``last_reply_at``/``view_count`` are kept by services with
    single-statement updates under the post's row lock, never read-modify-write."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="forum_posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="forum_posts")
    title = models.CharField(max_length=MAX_FORUM_TITLE_CHARS)
    content = models.TextField(max_length=MAX_FORUM_CONTENT_CHARS)
    tags = models.JSONField(default=list, blank=True, help_text="Lower-case slugs; mirrored in ForumPostTag for filtering.")
    is_pinned = models.BooleanField(default=False)
    is_locked = models.BooleanField(default=False, help_text="Takes no new replies.")
    view_count = models.PositiveIntegerField(default=0)
    reply_count = models.PositiveIntegerField(default=0, help_text="Live (not deleted) replies.")
    last_reply_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    moderation_state = models.CharField(
        max_length=10, choices=ModerationState.choices, default=ModerationState.VISIBLE, db_index=True
    )
    edited_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # PostgreSQL only (the column exists, unused, on SQLite): title (A), text (B) and the live replies'
    # text (C), rewritten by community.search.forum_post_index in the transaction of every change.
    search_vector = SearchVectorField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "forum_posts"
        ordering = ["-is_pinned", "-created_at"]
        indexes = [
            models.Index(fields=["channel", "-is_pinned", "-created_at"], name="forum_post_channel_new"),
            models.Index(fields=["-is_pinned", "-created_at"], name="forum_post_new"),
            models.Index(fields=["author", "created_at"], name="forum_post_author"),
            GinIndex(fields=["search_vector"], name="forum_post_search_idx"),  # PostgreSQL only (migration)
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("forum_topic", kwargs={"post_id": self.pk, "slug": self.slug})

    @property
    def slug(self) -> str:
        """The readable part of the topic's URL; only the id finds the topic (a wrong slug redirects)."""
        from django.utils.text import slugify

        return slugify(self.title)[:80].strip("-") or "topic"


class ForumPostTag(models.Model):
    """One row per tag of a post: what the tag filter (and a tags page) query, on SQLite too,
    where a JSON list cannot be searched by element. Written only with ``ForumPost.tags``."""

    post = models.ForeignKey(ForumPost, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=MAX_FORUM_TAG_CHARS)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "tag"], name="forum_post_tag_unique")]
        indexes = [models.Index(fields=["tag", "post"], name="forum_post_tag_tag")]

    def __str__(self) -> str:
        return self.tag


class ForumPostEdit(models.Model):
    """The title and text a post had before an edit; readers can see the history."""

    post = models.ForeignKey(ForumPost, on_delete=models.CASCADE, related_name="edits")
    title = models.CharField(max_length=MAX_FORUM_TITLE_CHARS)
    content = models.TextField()
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["edited_at"]

    def __str__(self) -> str:
        return f"edit of {self.post_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class ForumReply(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    post = models.ForeignKey(ForumPost, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="forum_replies")
    content = models.TextField(max_length=MAX_FORUM_CONTENT_CHARS)
    is_solution = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    moderation_state = models.CharField(
        max_length=10, choices=ModerationState.choices, default=ModerationState.VISIBLE, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "forum_replies"
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["post"], condition=models.Q(is_solution=True), name="forum_reply_one_solution",
                violation_error_message="This topic already has a solution.",
            ),
            models.CheckConstraint(
                condition=models.Q(is_solution=False) | models.Q(deleted_at__isnull=True),
                name="forum_reply_solution_live",
            ),
        ]
        indexes = [models.Index(fields=["post", "created_at"], name="forum_reply_post_created")]

    def __str__(self) -> str:
        return f"reply {self.id} to {self.post_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ForumReaction(models.Model):
    """One row per (post or reply, user, emoji), as chat's Reaction: concurrent toggles never lose or double one."""

    post = models.ForeignKey(ForumPost, null=True, blank=True, on_delete=models.CASCADE, related_name="reaction_rows")
    reply = models.ForeignKey(ForumReply, null=True, blank=True, on_delete=models.CASCADE, related_name="reaction_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(post__isnull=False, reply__isnull=True) | models.Q(post__isnull=True, reply__isnull=False)),
                name="forum_reaction_one_target",
            ),
            models.UniqueConstraint(
                fields=["post", "user", "emoji"], condition=models.Q(reply__isnull=True), name="forum_reaction_post_unique",
                violation_error_message="You already reacted with this emoji.",
            ),
            models.UniqueConstraint(
                fields=["reply", "user", "emoji"], condition=models.Q(post__isnull=True), name="forum_reaction_reply_unique",
                violation_error_message="You already reacted with this emoji.",
            ),
        ]
        indexes = [
            models.Index(fields=["post", "emoji"], name="forum_reaction_post"),
            models.Index(fields=["reply", "emoji"], name="forum_reaction_reply"),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.post_id or self.reply_id}"
