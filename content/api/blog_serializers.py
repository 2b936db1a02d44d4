"""Blog API shapes. Input is checked for what JSON and PostgreSQL can hold here; the services check the
rest (blocks, slugs, tags, URLs) and name the field — or the block — that is wrong."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agentwise.api.fields import (
    _PY_SPACE,
    NOT_BLANK,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
    UTCDateTimeField,
    _json_problem,
)

from .. import blocks, revisions
from ..models import BlogPost, BlogRevision, PublicationStatus
from ..permissions import post_is_public

# A post's slug as slugify() leaves it: lower-case letters, digits, "_" and single hyphens, starting and
# ending with a letter or digit.
SLUG_RE = r"^[a-z0-9](?:(?:[a-z0-9_]|-[a-z0-9_])*-?[a-z0-9])?$"
# An http(s) URL or a path on this site ("/media/…", not "//host/…"), or empty.
URL_OR_PATH_RE = r"^(?:|/|/[^/\x00-\x20][^\x00-\x20]*|[Hh][Tt][Tt][Pp][Ss]?://[^/\x00-\x20][^\x00-\x20]*)$"
_BLOCK_URL_RE = r"^(?:/|/[^/\x00][^\x00]*|[Hh][Tt][Tt][Pp][Ss]?://[^/\x00][^\x00]*)$"
_ONE_LINE_RE = rf"^[^\x00\n]*[^\x00\n{_PY_SPACE}][^\x00\n]*$"
_LANGUAGE_RE = r"^(?:[A-Za-z0-9][A-Za-z0-9+#._-]{0,39})?$"


def _text(limit: int, *, required: bool = True, description: str = "", pattern: str | None = None) -> dict:
    schema = {
        "type": "string",
        "maxLength": limit,
        "pattern": pattern or (NOT_BLANK if required else r"^[^\x00]*$"),
    }
    if description:
        schema["description"] = description
    return schema


def _block(kind: str, properties: dict, required: list[str], description: str) -> dict:
    return {
        "type": "object",
        "title": kind,
        "description": description,
        "properties": {"type": {"const": kind}, **properties},
        "required": ["type", *required],
    }


MARKDOWN = "Markdown (CommonMark and tables; raw HTML is shown as text)."
BLOCK_WRITE_SCHEMAS = [
    _block(
        "paragraph",
        {"text": _text(blocks.MAX_TEXT, description=MARKDOWN)},
        ["text"],
        "A paragraph of markdown.",
    ),
    _block(
        "heading",
        {
            "text": _text(255, pattern=_ONE_LINE_RE, description="One line."),
            "level": {"type": "integer", "enum": list(blocks.HEADING_LEVELS), "default": 2},
        },
        ["text"],
        "A section heading (h2 to h4; the title is the h1).",
    ),
    _block(
        "code",
        {
            "language": {
                "type": ["string", "null"],
                "pattern": _LANGUAGE_RE,
                "maxLength": 40,
                "description": "e.g. python, bash, c++; empty for none.",
            },
            "text": _text(blocks.MAX_TEXT),
        },
        ["text"],
        "Code, shown as written.",
    ),
    _block(
        "image",
        {
            "url": _text(2000, pattern=_BLOCK_URL_RE, description="An http(s) URL or a path on this site."),
            "alt": _text(500, description="What the image shows, for readers who cannot see it."),
            "caption": _text(500, required=False),
        },
        ["url", "alt"],
        "An image with alt text.",
    ),
    _block(
        "quote",
        {"text": _text(blocks.MAX_TEXT, description=MARKDOWN), "attribution": _text(255, required=False)},
        ["text"],
        "A quotation.",
    ),
    _block(
        "callout",
        {
            "text": _text(blocks.MAX_TEXT, description=MARKDOWN),
            "style": {"type": "string", "enum": list(blocks.CALLOUT_STYLES), "default": "info"},
        },
        ["text"],
        "A highlighted note.",
    ),
    _block(
        "embed",
        {
            "url": _text(
                2000, description=f"An https link to a video on one of: {', '.join(blocks.EMBED_PROVIDERS)}."
            ),
            "caption": _text(500, required=False),
        },
        ["url"],
        "A video player from an allowed provider.",
    ),
]

# What a stored body looks like (every key present, as the services normalise it).
_READ_KEYS = {
    "paragraph": ["text"],
    "heading": ["text", "level"],
    "code": ["language", "text"],
    "image": ["url", "alt", "caption"],
    "quote": ["text", "attribution"],
    "callout": ["text", "style"],
    "embed": ["url", "caption"],
}
BLOCK_READ_SCHEMAS = [
    {
        "type": "object",
        "title": kind,
        "properties": {
            "type": {"const": kind},
            **{key: ({"type": "integer"} if key == "level" else {"type": "string"}) for key in keys},
        },
        "required": ["type", *keys],
    }
    for kind, keys in _READ_KEYS.items()
]


@extend_schema_field(
    {
        "type": "array",
        "maxItems": blocks.MAX_BLOCKS,
        "items": {"oneOf": BLOCK_WRITE_SCHEMAS},
        "description": "The body: a list of typed blocks. Keys a block type does not have are dropped.",
    }
)
class BlocksField(serializers.Field):
    """A body as sent. The services validate each block (errors name it: "Block 3 (image): …")."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError("Content must be a list of blocks.")
        problem = _json_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        return data

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "array", "items": {"oneOf": BLOCK_READ_SCHEMAS}})
class BlocksReadField(serializers.ReadOnlyField):
    pass


class SeoMetaSerializer(serializers.Serializer):
    """Search and link-preview overrides; empty ones fall back to the post's title, excerpt and image."""

    title = StrictCharField(max_length=255, allow_blank=True, required=False)
    description = StrictCharField(max_length=500, allow_blank=True, required=False)
    image = StrictRegexField(
        URL_OR_PATH_RE,
        max_length=2000,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        help_text="An http(s) URL or a path on this site.",
    )
    canonical = StrictRegexField(
        URL_OR_PATH_RE,
        max_length=2000,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        help_text="The canonical URL, when the post first appeared elsewhere.",
    )
    noindex = StrictBooleanField(required=False, help_text="Ask search engines not to index the post.")


class BlogAuthorSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    username = serializers.CharField(read_only=True)


class BlogPostSerializer(serializers.ModelSerializer):
    """A post. ``has_unpublished_changes`` and ``go_live_at`` are for staff (null for everyone else)."""

    url = serializers.CharField(
        source="get_absolute_url", read_only=True, help_text="The page, on this site."
    )
    content = BlocksReadField()
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    seo_meta = SeoMetaSerializer(read_only=True)
    author = BlogAuthorSerializer(read_only=True, allow_null=True)
    is_public = serializers.SerializerMethodField(help_text="Published and its time has come.")
    has_unpublished_changes = serializers.SerializerMethodField(
        help_text="Staff: a newer draft revision waits over the live version (null for others)."
    )
    go_live_at = serializers.SerializerMethodField(
        help_text="Staff: when that draft revision is scheduled to go live (null if not scheduled, and for others)."
    )
    published_at = UTCDateTimeField(read_only=True, allow_null=True)
    created_at = UTCDateTimeField(read_only=True)
    updated_at = UTCDateTimeField(read_only=True)

    class Meta:
        model = BlogPost
        fields = [
            "id",
            "url",
            "slug",
            "title",
            "excerpt",
            "content",
            "featured_image",
            "status",
            "is_public",
            "tags",
            "seo_meta",
            "view_count",
            "reading_time",
            "published_at",
            "author",
            "created_at",
            "updated_at",
            "has_unpublished_changes",
            "go_live_at",
        ]
        read_only_fields = fields

    def _staff(self) -> bool:
        return bool(self.context.get("staff"))

    def get_is_public(self, post) -> bool:
        return post_is_public(post)

    def get_has_unpublished_changes(self, post) -> bool | None:
        return post.has_unpublished_changes if self._staff() else None

    @extend_schema_field(UTCDateTimeField(allow_null=True))
    def get_go_live_at(self, post):
        if not self._staff():
            return None
        revision = revisions.scheduled_revision(post)
        return UTCDateTimeField().to_representation(revision.go_live_at) if revision else None


class BlogPostDetailSerializer(BlogPostSerializer):
    content_html = serializers.SerializerMethodField(help_text="The body rendered to sanitised HTML.")

    class Meta(BlogPostSerializer.Meta):
        fields = [*BlogPostSerializer.Meta.fields, "content_html"]
        read_only_fields = fields

    def get_content_html(self, post) -> str:
        return blocks.render_blocks(post.content)


class BlogPostWriteSerializer(serializers.Serializer):
    """Creating a post (``title`` required) or changing one (every field optional)."""

    title = StrictCharField(max_length=255)
    slug = StrictRegexField(
        SLUG_RE,
        max_length=255,
        required=False,
        trim_whitespace=False,
        help_text="Made from the title when left out. Changing a public post's slug keeps the old URL (301).",
    )
    excerpt = StrictCharField(
        max_length=2000,
        allow_blank=True,
        required=False,
        help_text="Made from the first paragraph when empty.",
    )
    content = BlocksField(required=False)
    featured_image = StrictRegexField(
        URL_OR_PATH_RE,
        max_length=2000,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        help_text="An http(s) URL or a path on this site.",
    )
    tags = serializers.ListField(
        child=StrictCharField(max_length=50),
        max_length=20,
        required=False,
        help_text='Made into slugs ("Token Costs" → "token-costs"); repeats are dropped.',
    )
    seo_meta = SeoMetaSerializer(required=False, help_text="Replaces the whole object.")
    status = serializers.ChoiceField(
        choices=PublicationStatus.choices,
        required=False,
        help_text="`published` with a future `published_at` schedules the post (404 to the public until then).",
    )
    published_at = UTCDateTimeField(
        required=False,
        allow_null=True,
        help_text="When the post is (or goes) public; now when publishing without it.",
    )
    reading_time = StrictIntegerField(
        min_value=1,
        max_value=32767,
        required=False,
        help_text="Minutes; worked out from the body when left out.",
    )
    change_summary = StrictCharField(
        max_length=2000, allow_blank=True, required=False, help_text="Why: shown in the revision history."
    )

    POST_FIELDS = (
        "title",
        "slug",
        "excerpt",
        "content",
        "featured_image",
        "tags",
        "seo_meta",
        "reading_time",
    )

    def post_fields(self) -> dict:
        data = self.validated_data
        fields = {name: data[name] for name in self.POST_FIELDS if name in data}
        if "seo_meta" in fields:
            fields["seo_meta"] = dict(fields["seo_meta"])
        return fields


class BlogPostUpdateSerializer(BlogPostWriteSerializer):
    draft = StrictBooleanField(
        required=False,
        default=False,
        help_text="On a published post: keep the change as a draft revision; the live version stays up.",
    )
    go_live_at = UTCDateTimeField(
        required=False,
        allow_null=True,
        help_text="On a published post: save the change as a draft revision that goes live at this (future) time.",
    )

    def validate(self, attrs):
        changes = set(attrs) & {*self.POST_FIELDS, "status", "published_at"}
        if not changes:
            raise serializers.ValidationError("Give at least one field to change.")
        if (attrs.get("draft") or attrs.get("go_live_at")) and {"status", "published_at"} & set(attrs):
            raise serializers.ValidationError(
                {"draft": ["A draft revision keeps the post's status: leave out status and published_at."]}
            )
        return attrs


class BlogRevisionSerializer(serializers.ModelSerializer):
    title = serializers.SerializerMethodField(help_text="The post's title in this revision.")
    author = BlogAuthorSerializer(read_only=True, allow_null=True)
    is_live = serializers.SerializerMethodField(help_text="This revision is what the public sees.")
    is_latest = serializers.SerializerMethodField(help_text="The newest revision.")
    created_at = UTCDateTimeField(read_only=True)
    go_live_at = UTCDateTimeField(read_only=True, allow_null=True, help_text="Scheduled to go live then.")
    published_at = UTCDateTimeField(
        read_only=True, allow_null=True, help_text="When it went live (null: never)."
    )

    class Meta:
        model = BlogRevision
        fields = [
            "id",
            "title",
            "author",
            "change_summary",
            "created_at",
            "go_live_at",
            "published_at",
            "is_live",
            "is_latest",
        ]
        read_only_fields = fields

    def get_title(self, revision) -> str:
        content = revision.content if isinstance(revision.content, dict) else {}
        return str(content.get("title") or "")

    def get_is_live(self, revision) -> bool:
        return revision.pk == self.context["post"].live_revision_id

    def get_is_latest(self, revision) -> bool:
        return revision.pk == self.context["post"].latest_revision_id


class RevisionRestoreSerializer(serializers.Serializer):
    publish = StrictBooleanField(
        required=False,
        default=False,
        help_text="Make the restored content live now. Otherwise, on a published post, it waits as a draft revision.",
    )
    change_summary = StrictCharField(max_length=2000, allow_blank=True, required=False)
