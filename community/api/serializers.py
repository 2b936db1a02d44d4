"""Community API shapes. Messages use the same payload as the websocket (community.events.message_payload)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agentwise.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField, StrictRegexField
from content.search import MAX_QUERY_LENGTH

from ..models import (
    EMOJI_PATTERN,
    FORUM_TAG_PATTERN,
    MAX_EMOJI_CHARS,
    MAX_FORUM_CONTENT_CHARS,
    MAX_FORUM_TAG_CHARS,
    MAX_FORUM_TAGS,
    MAX_FORUM_TITLE_CHARS,
    MAX_MESSAGE_CHARS,
    Channel,
    ContentType,
    ForumPostEdit,
    MessageEdit,
)
from ..permissions import channel_capabilities
from ..selectors import FORUM_ORDERINGS

MAX_SEARCH_CHARS = MAX_QUERY_LENGTH  # one limit for every search box

CAPABILITIES = ("can_post", "can_react", "can_edit_own", "can_delete_own", "can_edit_any", "can_delete_any")


class ChannelSerializer(serializers.ModelSerializer):
    unread = serializers.IntegerField(read_only=True, help_text="Top-level messages after your read marker.")
    is_member = serializers.BooleanField(read_only=True)
    can_post = serializers.SerializerMethodField(help_text="You may post here (locked and read-only channels: staff).")
    can_react = serializers.SerializerMethodField(help_text="You may react to messages here.")
    can_edit_own = serializers.SerializerMethodField(help_text="You may edit your own messages here.")
    can_delete_own = serializers.SerializerMethodField(help_text="You may delete your own messages here.")
    can_edit_any = serializers.SerializerMethodField(help_text="You may edit anyone's messages here (staff).")
    can_delete_any = serializers.SerializerMethodField(help_text="You may delete anyone's messages here (staff).")

    class Meta:
        model = Channel
        fields = [
            "id", "name", "description", "category", "type", "is_private", "is_locked", "state",
            "position", "last_seq", "unread", "is_member", *CAPABILITIES, "created_at",
        ]
        read_only_fields = fields

    def _can(self, channel, flag: str) -> bool:
        """The flags are computed together by ``community.permissions.channel_capabilities``, once."""
        if "_capabilities" not in channel.__dict__:
            channel._capabilities = channel_capabilities(self.context["request"].user, channel)
        return channel._capabilities[flag]

    def get_can_post(self, channel) -> bool:
        return self._can(channel, "can_post")

    def get_can_react(self, channel) -> bool:
        return self._can(channel, "can_react")

    def get_can_edit_own(self, channel) -> bool:
        return self._can(channel, "can_edit_own")

    def get_can_delete_own(self, channel) -> bool:
        return self._can(channel, "can_delete_own")

    def get_can_edit_any(self, channel) -> bool:
        return self._can(channel, "can_edit_any")

    def get_can_delete_any(self, channel) -> bool:
        return self._can(channel, "can_delete_any")


class AuthorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    avatar = serializers.CharField()
    is_staff = serializers.BooleanField(help_text="Shown as a staff badge.")


class ReactionStateSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    me = serializers.BooleanField()


class MessageSerializer(serializers.Serializer):
    """Documentation of the payload built by community.events.message_payload."""

    id = serializers.UUIDField()
    channel = serializers.UUIDField()
    seq = serializers.IntegerField(help_text="Per-channel sequence number; a gap means you missed messages.")
    parent = serializers.UUIDField(allow_null=True)
    user = AuthorSerializer(allow_null=True)
    content = serializers.CharField(help_text="Empty when deleted.")
    content_type = serializers.ChoiceField(choices=ContentType.choices)
    attachments = serializers.ListField(child=serializers.DictField())
    reactions = serializers.DictField(child=ReactionStateSerializer(), help_text='e.g. {"👍": {"count": 2, "me": true}}')
    reply_count = serializers.IntegerField()
    last_reply_at = serializers.DateTimeField(allow_null=True)
    client_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    can_edit = serializers.BooleanField(
        help_text="You may edit this message. REST only: for messages arriving over the socket, apply the channel's `can`."
    )
    can_delete = serializers.BooleanField(help_text="You may delete this message.")
    can_react = serializers.BooleanField(help_text="You may react to this message.")


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    has_more = serializers.BooleanField(help_text="More messages exist beyond this page in the requested direction.")


class MessageContentField(StrictCharField):
    """Blank content is refused by the service unless the message has attachments (see schema.py)."""

    def __init__(self, **kwargs):
        super().__init__(
            max_length=MAX_MESSAGE_CHARS, allow_blank=True, trim_whitespace=False,
            help_text="Up to 4,000 characters, not blank (it may be empty only on a message with attachments).",
            **kwargs,
        )


class MessageCreateSerializer(serializers.Serializer):
    content = MessageContentField()
    content_type = serializers.ChoiceField(choices=ContentType.choices, default=ContentType.TEXT)
    parent = serializers.UUIDField(required=False, allow_null=True, help_text="Reply in this message's thread.")
    client_id = StrictCharField(max_length=64, required=False, allow_blank=True)
    attachments = serializers.ListField(child=serializers.UUIDField(), max_length=5, required=False)


class MessageEditSerializer(serializers.Serializer):
    content = MessageContentField()


# Stated by hand: drf-spectacular would write the pattern's emoji as Python \U escapes, which
# JSON Schema's regex dialect does not read.
@extend_schema_field({"type": "string", "minLength": 1, "maxLength": MAX_EMOJI_CHARS, "pattern": EMOJI_PATTERN})
class EmojiField(StrictRegexField):
    def __init__(self, **kwargs):
        super().__init__(
            EMOJI_PATTERN, max_length=MAX_EMOJI_CHARS, error_messages={"invalid": "One emoji, e.g. 👍."}, **kwargs
        )


class ReactionToggleSerializer(serializers.Serializer):
    emoji = EmojiField(help_text="One emoji (with skin tone, flag or ZWJ sequence), e.g. 👍.")


class ReactionResultSerializer(serializers.Serializer):
    emoji = serializers.CharField()
    added = serializers.BooleanField()
    count = serializers.IntegerField()


class ReadMarkerSerializer(serializers.Serializer):
    seq = StrictIntegerField(min_value=0, max_value=2**62)
    thread = serializers.UUIDField(required=False, allow_null=True)


class ReadMarkerResultSerializer(serializers.Serializer):
    last_read_seq = serializers.IntegerField()


class MessageEditHistorySerializer(serializers.ModelSerializer):
    edited_by = serializers.CharField(source="edited_by.username", default=None)

    class Meta:
        model = MessageEdit
        fields = ["content", "edited_by", "edited_at"]


class AttachmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.CharField()


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class ChannelMemberSerializer(serializers.Serializer):
    user = AuthorSerializer(read_only=True)
    added_by = serializers.CharField(source="added_by.username", default=None, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, member):
        from ..events import author_payload

        return {"user": author_payload(member.user), "added_by": member.added_by.username if member.added_by else None,
                "created_at": member.created_at.isoformat()}


class ChannelMemberAddSerializer(serializers.Serializer):
    username = StrictCharField(max_length=50, help_text="The member to add.")


# --- Forum ---------------------------------------------------------------------------------------


class ForumTagField(StrictRegexField):
    """A tag as a client may type it (any case); stored lower-case."""

    def __init__(self, **kwargs):
        super().__init__(
            FORUM_TAG_PATTERN, max_length=MAX_FORUM_TAG_CHARS,
            error_messages={"invalid": "Letters, digits and single hyphens, e.g. django-rest."}, **kwargs,
        )


def _forum_tags_field(**kwargs):
    return serializers.ListField(
        child=ForumTagField(), max_length=MAX_FORUM_TAGS,
        help_text=f"Up to {MAX_FORUM_TAGS} tags; stored lower-case, each once.", **kwargs,
    )


class ForumPostCreateSerializer(serializers.Serializer):
    channel = serializers.UUIDField(help_text="A forum channel you may post in.")
    title = StrictCharField(max_length=MAX_FORUM_TITLE_CHARS)
    content = StrictCharField(max_length=MAX_FORUM_CONTENT_CHARS, help_text="Markdown.")
    tags = _forum_tags_field(required=False, default=list)


class ForumPostUpdateSerializer(serializers.Serializer):
    title = StrictCharField(max_length=MAX_FORUM_TITLE_CHARS, required=False)
    content = StrictCharField(max_length=MAX_FORUM_CONTENT_CHARS, required=False, help_text="Markdown.")
    tags = _forum_tags_field(required=False)
    is_pinned = StrictBooleanField(required=False, help_text="Staff only.")
    is_locked = StrictBooleanField(required=False, help_text="Staff only: a locked topic takes no new replies.")


class ForumPostFilterSerializer(serializers.Serializer):
    q = StrictCharField(required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_SEARCH_CHARS)
    channel = serializers.UUIDField(required=False)
    tag = ForumTagField(required=False)
    order = serializers.ChoiceField(choices=list(FORUM_ORDERINGS), required=False, default="activity")


class ForumReplyWriteSerializer(serializers.Serializer):
    content = StrictCharField(max_length=MAX_FORUM_CONTENT_CHARS, help_text="Markdown.")


class ForumPreviewSerializer(serializers.Serializer):
    content = StrictCharField(
        max_length=MAX_FORUM_CONTENT_CHARS, allow_blank=True, trim_whitespace=False,
        help_text="Markdown, as a topic or reply would hold it.",
    )


class ForumPreviewResultSerializer(serializers.Serializer):
    html = serializers.CharField(help_text="The content rendered and sanitised exactly as a saved topic or reply shows it.")


class ForumPostSerializer(serializers.Serializer):
    """Documentation of the payload built by community.events.forum_post_payload, plus your ``can_*``."""

    id = serializers.UUIDField()
    channel = serializers.UUIDField()
    author = AuthorSerializer(allow_null=True)
    title = serializers.CharField()
    content = serializers.CharField(help_text="Markdown, as written.")
    content_html = serializers.CharField(help_text="The content rendered and sanitised.")
    tags = serializers.ListField(child=serializers.CharField())
    is_pinned = serializers.BooleanField()
    is_locked = serializers.BooleanField(help_text="Takes no new replies.")
    is_solved = serializers.BooleanField()
    solution = serializers.UUIDField(allow_null=True, help_text="The reply chosen as the solution.")
    view_count = serializers.IntegerField(help_text="Distinct viewers per hour.")
    reply_count = serializers.IntegerField(help_text="Replies not deleted.")
    reaction_count = serializers.IntegerField()
    reactions = serializers.DictField(child=ReactionStateSerializer(), help_text='e.g. {"👍": {"count": 2, "me": true}}')
    last_reply_at = serializers.DateTimeField(allow_null=True)
    last_activity_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True, help_text="Set once edited; see the edits endpoint.")
    can_reply = serializers.BooleanField()
    can_edit = serializers.BooleanField()
    can_delete = serializers.BooleanField()
    can_react = serializers.BooleanField()
    can_moderate = serializers.BooleanField(help_text="You may pin and lock (staff).")
    snippet = serializers.CharField(
        required=False,
        help_text="Searches (`q`) only: HTML, the topic's text and first replies escaped, the matching words in `<mark>`.",
    )


class ForumReplySerializer(serializers.Serializer):
    """Documentation of the payload built by community.events.forum_reply_payload, plus your ``can_*``."""

    id = serializers.UUIDField()
    post = serializers.UUIDField()
    author = AuthorSerializer(allow_null=True)
    content = serializers.CharField(help_text="Empty when deleted.")
    content_html = serializers.CharField()
    is_solution = serializers.BooleanField()
    reactions = serializers.DictField(child=ReactionStateSerializer())
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    can_edit = serializers.BooleanField()
    can_delete = serializers.BooleanField()
    can_react = serializers.BooleanField()
    can_mark_solution = serializers.BooleanField(help_text="You may mark or unmark it as the solution.")


class ForumPostEditHistorySerializer(serializers.ModelSerializer):
    edited_by = serializers.CharField(source="edited_by.username", default=None)

    class Meta:
        model = ForumPostEdit
        fields = ["title", "content", "edited_by", "edited_at"]
