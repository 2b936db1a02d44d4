"""Docs API shapes."""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agentwise.api.fields import (
    NO_NUL,
    JSONObjectField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
    UTCDateTimeField,
)

from .. import blocks
from ..models import Documentation, DocumentationRevision
from ..services import VERSION_RE

# What services._clean_slug accepts (a slug equal to its own slugify()), stated as a schema pattern.
SLUG_RE = re.compile(r"^[a-z0-9](?:(?:-?[a-z0-9_])*-?[a-z0-9])?$")
POSITION_MIN, POSITION_MAX = -(2**31) + 1, 2**31 - 1

_TEXT = {"type": "string", "pattern": NO_NUL}
BLOCK_SCHEMA = {
    "type": "object",
    "description": (
        "A content block: `paragraph` and `quote`/`callout` (markdown `text`), `heading` (`text`, `level` 2-4), "
        "`code` (`language`, `text`), `image` (`url`, `alt`, `caption`), `embed` (`url` of YouTube, Vimeo, "
        "Loom or asciinema, `caption`). Which fields a type requires is checked on save (400 naming the block)."
    ),
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": list(blocks.BLOCK_TYPES)},
        "text": {**_TEXT, "maxLength": blocks.MAX_TEXT},
        "level": {"type": "integer", "enum": list(blocks.HEADING_LEVELS)},
        "language": {
            "type": "string",
            "pattern": r"^(?:[A-Za-z0-9][A-Za-z0-9+#._-]{0,39})?$",
            "description": "e.g. python, bash, c++; empty for none.",
        },
        "url": {**_TEXT, "maxLength": 2000},
        "alt": {**_TEXT, "maxLength": 500},
        "caption": {**_TEXT, "maxLength": 500},
        "attribution": {**_TEXT, "maxLength": 255},
        "style": {"type": "string", "enum": list(blocks.CALLOUT_STYLES)},
    },
    "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
}


@extend_schema_field({"type": "array", "items": BLOCK_SCHEMA, "maxItems": blocks.MAX_BLOCKS})
class BlocksField(serializers.ListField):
    """A body: a list of block objects (validated in full by the services, which name a bad block)."""

    def __init__(self, **kwargs):
        super().__init__(child=JSONObjectField(), max_length=blocks.MAX_BLOCKS, **kwargs)


class DocsPageSerializer(serializers.ModelSerializer):
    content = BlocksField(read_only=True)
    url = serializers.SerializerMethodField(help_text="The page on the site: /docs/<version>/<slug path>/.")

    class Meta:
        model = Documentation
        fields = [
            "id",
            "slug",
            "title",
            "content",
            "category",
            "position",
            "version",
            "parent",
            "is_published",
            "url",
            "created_at",
            "updated_at",
            "has_unpublished_changes",
        ]
        read_only_fields = fields

    def get_url(self, page) -> str:
        return self.context["paths"].get(page.pk, "")


def _full_match(pattern: re.Pattern, message: str):
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise serializers.ValidationError(message)
        return value

    return check


SLUG_MESSAGE = (
    "Use lower-case letters, digits, hyphens and underscores, starting and ending with a letter or digit."
)
VERSION_MESSAGE = "Use letters, digits, dots, hyphens (e.g. 1.0, 2.0, latest)."


class DocsPageWriteSerializer(serializers.Serializer):
    title = StrictCharField(max_length=255)
    slug = StrictRegexField(
        SLUG_RE.pattern,
        max_length=255,
        required=False,
        trim_whitespace=False,
        validators=[_full_match(SLUG_RE, SLUG_MESSAGE)],
        error_messages={"invalid": SLUG_MESSAGE},
        help_text="Unique under its parent in its version; derived from the title when left out.",
    )
    content = BlocksField(required=False)
    category = StrictCharField(max_length=100, allow_blank=True, required=False)
    position = StrictIntegerField(
        min_value=POSITION_MIN, max_value=POSITION_MAX, required=False, help_text="Order among its siblings."
    )
    version = StrictRegexField(
        VERSION_RE.pattern,
        max_length=50,
        required=False,
        trim_whitespace=False,
        validators=[_full_match(VERSION_RE, VERSION_MESSAGE)],
        error_messages={"invalid": VERSION_MESSAGE},
        help_text="Default `latest` on creation.",
    )
    parent = serializers.UUIDField(
        allow_null=True, required=False, help_text="A page of the same version; null for the top level."
    )
    is_published = StrictBooleanField(required=False, help_text="Unpublished pages are 404 to the public.")
    change_summary = StrictCharField(
        max_length=2000, allow_blank=True, required=False, help_text="Why: shown in the page's history."
    )


class DocsPageUpdateSerializer(DocsPageWriteSerializer):
    title = StrictCharField(max_length=255, required=False)
    draft = StrictBooleanField(
        required=False,
        default=False,
        help_text="On a published page: keep the change as a draft revision; the live version stays up.",
    )
    go_live_at = UTCDateTimeField(
        required=False,
        allow_null=True,
        help_text="On a published page: schedule the change (a draft) to go live then. Must be in the future.",
    )


class DocsRevisionAuthorSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    username = serializers.CharField(read_only=True)


class DocsRevisionSerializer(serializers.ModelSerializer):
    author = DocsRevisionAuthorSerializer(read_only=True, allow_null=True)
    is_live = serializers.SerializerMethodField(help_text="This revision is what the page shows now.")
    content = serializers.SerializerMethodField(
        help_text="The snapshot: title, slug, content (blocks), category, position, parent_id."
    )

    class Meta:
        model = DocumentationRevision
        fields = [
            "id",
            "author",
            "change_summary",
            "created_at",
            "go_live_at",
            "published_at",
            "is_live",
            "content",
        ]
        read_only_fields = fields

    def get_is_live(self, revision) -> bool:
        return revision.pk == self.context["live_revision_id"]

    @extend_schema_field({"type": "object", "additionalProperties": True})
    def get_content(self, revision) -> dict:
        return revision.content


class DocsRestoreSerializer(serializers.Serializer):
    publish = StrictBooleanField(
        required=False,
        default=False,
        help_text="Make it live now. Otherwise, on a published page, it becomes a draft over the live version.",
    )
    change_summary = StrictCharField(max_length=2000, allow_blank=True, required=False)
