"""Writes for the blog and the docs. The admin, the API, ``import_docs`` and the scheduler all come
through here, so every change is checked once, keeps a revision and drops the cached pages."""

from __future__ import annotations

import copy
import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from agentwise.access import require

from . import blocks, cache, revisions, search
from .models import (
    BlogPost,
    BlogPostTag,
    BlogRevision,
    BlogSlugRedirect,
    Documentation,
    DocumentationRevision,
    PublicationStatus,
)
from .permissions import post_is_public

MAX_TAGS = 20
SEO_FIELDS = {
    "title": (str, 255),
    "description": (str, 500),
    "image": (str, 2000),
    "canonical": (str, 2000),
    "noindex": (bool, None),
}
DUE_CHECKED_KEY = "content:due-checked-at"
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$")

POST_FIELDS = {
    "title",
    "slug",
    "excerpt",
    "content",
    "featured_image",
    "tags",
    "seo_meta",
    "author",
    "reading_time",
}
DOC_FIELDS = {"title", "slug", "content", "category", "position", "parent", "version", "is_published"}


# --- shared ------------------------------------------------------------------------------------


def _check_fields(fields: dict, allowed: set) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})


def _clean_url(value: str, field: str) -> str:
    value = (value or "").strip()
    if value and not (
        value.startswith(("https://", "http://")) or (value.startswith("/") and not value.startswith("//"))
    ):
        raise ValidationError({field: "Enter an http(s) URL or a path on this site."})
    return value


def clean_tags(tags) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
        raise ValidationError({"tags": "Tags must be a list of strings."})
    cleaned = []
    for tag in tags:
        slug = slugify(tag)[:50]
        if not slug:
            raise ValidationError({"tags": f"“{tag[:50]}” is not a usable tag (letters, digits, hyphens)."})
        if slug not in cleaned:
            cleaned.append(slug)
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"At most {MAX_TAGS} tags."})
    return cleaned


def clean_seo_meta(meta) -> dict:
    if meta in (None, ""):
        return {}
    if not isinstance(meta, dict):
        raise ValidationError(
            {"seo_meta": "Must be an object with title, description, image, canonical, noindex."}
        )
    unknown = set(meta) - set(SEO_FIELDS)
    if unknown:
        raise ValidationError({"seo_meta": f"Unknown keys: {', '.join(sorted(map(str, unknown)))[:200]}."})
    cleaned = {}
    for key, value in meta.items():
        kind, limit = SEO_FIELDS[key]
        if not isinstance(value, kind):
            raise ValidationError(
                {"seo_meta": f"“{key}” must be a {'boolean' if kind is bool else 'string'}."}
            )
        if limit and len(value) > limit:
            raise ValidationError({"seo_meta": f"“{key}” is longer than {limit} characters."})
        if key in {"image", "canonical"}:
            try:
                value = _clean_url(value, "seo_meta")
            except ValidationError:
                raise ValidationError(
                    {"seo_meta": f"“{key}” must be an http(s) URL or a site path."}
                ) from None
        cleaned[key] = value
    return cleaned


def _clean_blocks(value) -> list[dict]:
    try:
        return blocks.clean_blocks(value)
    except ValidationError as error:
        raise ValidationError({"content": error.messages}) from None


def _clean_title(value) -> str:
    title = (value or "").strip() if isinstance(value, str) else ""
    if not title:
        raise ValidationError({"title": "A title is required."})
    if len(title) > 255:
        raise ValidationError({"title": "At most 255 characters."})
    return title


def _clean_slug(value) -> str:
    slug = (value or "").strip() if isinstance(value, str) else ""
    if slug != slugify(slug) or not slug or len(slug) > 255:
        raise ValidationError({"slug": "Use lower-case letters, digits and hyphens (at most 255)."})
    return slug


def _check_go_live(go_live_at: datetime | None) -> None:
    if go_live_at is not None and go_live_at <= timezone.now():
        raise ValidationError({"go_live_at": "Must be in the future (publish now instead)."})


def _record_draft(*, page, actor, fields: dict, apply_fields, change_summary: str, go_live_at) -> None:
    """A change to a live page kept as a draft revision: built on the newest draft, validated as a save
    would be, the live row untouched."""
    candidate = copy.copy(page)
    pending = revisions.draft_revision(page)
    if pending is not None:
        revisions.apply_snapshot(candidate, pending.content)
    apply_fields(candidate, fields)
    revisions.revision_record(
        page=page,
        author=actor,
        change_summary=change_summary,
        content=revisions.snapshot(candidate),
        go_live_at=go_live_at,
        live=False,
    )


def _invalidate_on_commit(*sections: str) -> None:
    transaction.on_commit(lambda: cache.invalidate(*sections))


# --- blog --------------------------------------------------------------------------------------


# Slugs the blog's own pages use (/blog/feed/): a post cannot take them.
RESERVED_POST_SLUGS = {"feed"}


def _free_post_slug(base: str, *, exclude_pk=None) -> str:
    base = (slugify(base)[:200] or "post").strip("-") or "post"
    slug, counter = base, 2
    while (
        slug in RESERVED_POST_SLUGS
        or BlogPost.objects.filter(slug=slug).exclude(pk=exclude_pk).exists()
        or BlogSlugRedirect.objects.filter(old_slug=slug).exclude(post_id=exclude_pk).exists()
    ):
        slug, counter = f"{base}-{counter}", counter + 1
    return slug


def _apply_post_fields(post: BlogPost, fields: dict) -> None:
    """Validates ``fields`` onto ``post`` (unsaved) and derives what was left out."""
    _check_fields(fields, POST_FIELDS)
    if "title" in fields or not post.title:
        post.title = _clean_title(fields.get("title", post.title))
    if "content" in fields:
        post.content = _clean_blocks(fields["content"])
    if "slug" in fields and fields["slug"]:
        post.slug = _clean_slug(fields["slug"])
        if post.slug in RESERVED_POST_SLUGS:
            raise ValidationError({"slug": f"“{post.slug}” is reserved for the blog's own pages."})
        if BlogPost.objects.filter(slug=post.slug).exclude(pk=post.pk).exists():
            raise ValidationError({"slug": "A post with this slug exists."})
    elif not post.slug:
        post.slug = _free_post_slug(post.title, exclude_pk=post.pk)
    if "excerpt" in fields:
        post.excerpt = (fields["excerpt"] or "").strip()
    if "featured_image" in fields:
        post.featured_image = _clean_url(fields["featured_image"], "featured_image")
    if "tags" in fields:
        post.tags = clean_tags(fields["tags"])
    if "seo_meta" in fields:
        post.seo_meta = clean_seo_meta(fields["seo_meta"])
    if "author" in fields and fields["author"] is not None:
        post.author = fields["author"]
    if fields.get("reading_time"):
        post.reading_time = fields["reading_time"]
    elif "content" in fields or post.reading_time is None:
        post.reading_time = blocks.reading_time_minutes(post.content)
    if not (fields.get("excerpt") or "").strip() and ("content" in fields or not post.excerpt):
        post.excerpt = blocks.excerpt_from(post.content)


def blog_post_check(*, post: BlogPost | None, fields: dict) -> None:
    """Raises the ValidationError saving ``fields`` would, without saving (the admin form shows it)."""
    _apply_post_fields(copy.copy(post) if post is not None else BlogPost(), fields)


def _sync_tags(post: BlogPost) -> None:
    BlogPostTag.objects.filter(post=post).exclude(tag__in=post.tags).delete()
    existing = set(BlogPostTag.objects.filter(post=post).values_list("tag", flat=True))
    BlogPostTag.objects.bulk_create([BlogPostTag(post=post, tag=t) for t in post.tags if t not in existing])


def _follow_slug(post: BlogPost, old_slug: str) -> None:
    """The old URL keeps working (301) once a post that was public changes its slug."""
    BlogSlugRedirect.objects.filter(old_slug=post.slug).delete()
    if old_slug and old_slug != post.slug:
        BlogSlugRedirect.objects.update_or_create(old_slug=old_slug, defaults={"post": post})


def _set_status(post: BlogPost, status: str | None, published_at: datetime | None) -> None:
    if status is None and published_at is None:
        return
    status = status or post.status
    if status not in PublicationStatus.values:
        raise ValidationError({"status": f"Must be one of {', '.join(PublicationStatus.values)}."})
    post.status = status
    if status == PublicationStatus.PUBLISHED:
        # A future time schedules it: 404 to the public until then, and publish_due_task announces it.
        post.published_at = published_at or post.published_at or timezone.now()
    elif published_at is not None:
        post.published_at = published_at


@transaction.atomic
def blog_post_create(
    *,
    actor,
    fields: dict,
    status: str = PublicationStatus.DRAFT,
    published_at: datetime | None = None,
    change_summary: str = "",
) -> BlogPost:
    require(actor, "content.add_blogpost")
    post = BlogPost(author=actor if getattr(actor, "pk", None) else None)
    _apply_post_fields(post, fields)
    _set_status(post, status, published_at)
    post.save()
    _sync_tags(post)
    BlogSlugRedirect.objects.filter(old_slug=post.slug).delete()
    revisions.revision_record(page=post, author=actor, change_summary=change_summary or "Created", live=True)
    _invalidate_on_commit("blog")
    return post


@transaction.atomic
def blog_post_update(
    *,
    actor,
    post: BlogPost,
    fields: dict,
    status: str | None = None,
    published_at: datetime | None = None,
    change_summary: str = "",
    draft: bool = False,
    go_live_at: datetime | None = None,
) -> BlogPost:
    """Changes a post. On a published post, ``draft`` (or ``go_live_at``, to schedule it) keeps the
    change as a draft revision while the live version stays up; otherwise the change goes live now."""
    require(actor, "content.change_blogpost", post)
    post = BlogPost.objects.select_for_update().get(pk=post.pk)
    _check_go_live(go_live_at)
    if (draft or go_live_at) and post.status == PublicationStatus.PUBLISHED:
        _record_draft(
            page=post,
            actor=actor,
            fields=fields,
            apply_fields=_apply_post_fields,
            change_summary=change_summary,
            go_live_at=go_live_at,
        )
        return post
    old_slug, was_public = post.slug, post_is_public(post)
    _apply_post_fields(post, fields)
    _set_status(post, status, published_at)
    post.save()
    _sync_tags(post)
    if was_public:
        _follow_slug(post, old_slug)
    revisions.revision_record(page=post, author=actor, change_summary=change_summary, live=True)
    _invalidate_on_commit("blog")
    return post


@transaction.atomic
def blog_post_delete(*, actor, post: BlogPost) -> None:
    require(actor, "content.delete_blogpost", post)
    post.delete()
    _invalidate_on_commit("blog")


def blog_post_count_view(*, post_id) -> None:
    """One atomic increment (no read-modify-write), so concurrent readers never lose a count."""
    BlogPost.objects.filter(pk=post_id).update(view_count=F("view_count") + 1)


def _publish_post_revision(post: BlogPost, revision: BlogRevision) -> BlogPost:
    post = BlogPost.objects.select_for_update().get(pk=post.pk)
    old_slug, was_public = post.slug, post_is_public(post)
    revisions.apply_snapshot(post, revision.content)
    if BlogPost.objects.filter(slug=post.slug).exclude(pk=post.pk).exists():
        post.slug = _free_post_slug(post.slug, exclude_pk=post.pk)
    post.reading_time = blocks.reading_time_minutes(post.content)
    if not post.excerpt:
        post.excerpt = blocks.excerpt_from(post.content)
    _set_status(post, PublicationStatus.PUBLISHED, None)
    post.save()
    _sync_tags(post)
    if was_public:
        _follow_slug(post, old_slug)
    revisions.mark_published(post, revision)
    _invalidate_on_commit("blog")
    return post


# --- docs --------------------------------------------------------------------------------------


def _apply_doc_fields(page: Documentation, fields: dict) -> None:
    _check_fields(fields, DOC_FIELDS)
    if "title" in fields or not page.title:
        page.title = _clean_title(fields.get("title", page.title))
    if "version" in fields:
        version = fields["version"]
        if not isinstance(version, str) or not VERSION_RE.fullmatch(version):
            raise ValidationError({"version": "Use letters, digits, dots, hyphens (e.g. 1.0, 2.0, latest)."})
        if version != page.version and not page._state.adding and page.children.exists():
            raise ValidationError(
                {"version": "Move or delete the pages under this one first (they keep their version)."}
            )
        page.version = version
    if "content" in fields:
        page.content = _clean_blocks(fields["content"])
    if "slug" in fields and fields["slug"]:
        page.slug = _clean_slug(fields["slug"])
    elif not page.slug:
        page.slug = (slugify(page.title)[:200] or "page").strip("-") or "page"
    if "category" in fields:
        page.category = (fields["category"] or "").strip()[:100]
    if "position" in fields:
        position = fields["position"]
        if isinstance(position, bool) or not isinstance(position, int) or not -(2**31) < position < 2**31:
            raise ValidationError({"position": "A whole number."})
        page.position = position
    if "is_published" in fields:
        page.is_published = bool(fields["is_published"])
    if "parent" in fields:
        page.parent = fields["parent"]
    if page.parent is not None:
        if page.parent.version != page.version:
            raise ValidationError({"parent": "The parent page must be in the same version."})
        ancestor, seen = page.parent, 0
        while ancestor is not None and seen < 100:
            if ancestor.pk == page.pk:
                raise ValidationError({"parent": "A page cannot be inside itself."})
            ancestor, seen = ancestor.parent, seen + 1
    siblings = Documentation.objects.filter(version=page.version, parent=page.parent, slug=page.slug).exclude(
        pk=page.pk
    )
    if siblings.exists():
        raise ValidationError({"slug": "A page with this slug exists under this parent in this version."})


def documentation_check(*, page: Documentation | None, fields: dict) -> None:
    """Raises the ValidationError saving ``fields`` would, without saving (the admin form shows it)."""
    _apply_doc_fields(copy.copy(page) if page is not None else Documentation(), fields)


def _after_doc_change(page: Documentation) -> None:
    search.documentation_index(page)
    _invalidate_on_commit("docs")


@transaction.atomic
def documentation_create(*, actor, fields: dict, change_summary: str = "") -> Documentation:
    require(actor, "content.add_documentation")
    page = Documentation()
    _apply_doc_fields(page, fields)
    page.save()
    revisions.revision_record(page=page, author=actor, change_summary=change_summary or "Created", live=True)
    _after_doc_change(page)
    return page


@transaction.atomic
def documentation_update(
    *,
    actor,
    page: Documentation,
    fields: dict,
    change_summary: str = "",
    draft: bool = False,
    go_live_at: datetime | None = None,
) -> Documentation:
    """As ``blog_post_update``: on a published page, ``draft``/``go_live_at`` keep the change as a draft."""
    require(actor, "content.change_documentation", page)
    page = Documentation.objects.select_for_update().get(pk=page.pk)
    _check_go_live(go_live_at)
    if (draft or go_live_at) and page.is_published:
        if "version" in fields:
            raise ValidationError(
                {"version": "Move a page to another version by publishing, not in a draft."}
            )
        _record_draft(
            page=page,
            actor=actor,
            fields=fields,
            apply_fields=_apply_doc_fields,
            change_summary=change_summary,
            go_live_at=go_live_at,
        )
        return page
    _apply_doc_fields(page, fields)
    page.save()
    revisions.revision_record(page=page, author=actor, change_summary=change_summary, live=True)
    _after_doc_change(page)
    return page


@transaction.atomic
def documentation_delete(*, actor, page: Documentation) -> None:
    require(actor, "content.delete_documentation", page)
    if page.children.exists():
        raise ValidationError({"parent": "This page has pages under it: move or delete them first."})
    page.delete()
    _invalidate_on_commit("docs")


def _keep_doc_parent_valid(page: Documentation) -> None:
    """An old snapshot's parent may since have been deleted, or moved into another version or under this
    very page: the page then goes to the top of its version instead of breaking the tree."""
    ancestor_id, seen = page.parent_id, 0
    while ancestor_id is not None and seen < 100:
        row = Documentation.objects.filter(pk=ancestor_id).values_list("version", "parent_id").first()
        if str(ancestor_id) == str(page.pk) or row is None or row[0] != page.version:
            page.parent_id = None
            return
        ancestor_id, seen = row[1], seen + 1


def _publish_doc_revision(page: Documentation, revision: DocumentationRevision) -> Documentation:
    page = Documentation.objects.select_for_update().get(pk=page.pk)
    revisions.apply_snapshot(page, revision.content)
    _keep_doc_parent_valid(page)
    clash = Documentation.objects.filter(version=page.version, parent_id=page.parent_id, slug=page.slug)
    if clash.exclude(pk=page.pk).exists():
        raise ValidationError({"slug": "A page with this slug exists under this parent in this version."})
    page.is_published = True
    page.save()
    revisions.mark_published(page, revision)
    _after_doc_change(page)
    return page


# --- both: publish, restore, schedule ------------------------------------------------------------


def _rule(page, verb: str) -> str:
    return f"content.{verb}_{'blogpost' if isinstance(page, BlogPost) else 'documentation'}"


@transaction.atomic
def revision_publish(*, actor, page, revision) -> BlogPost | Documentation:
    """Makes a (draft) revision the live version now."""
    require(actor, _rule(page, "change"), page)
    if revision.__class__ not in (BlogRevision, DocumentationRevision) or revision.content is None:
        raise ValidationError("Not a revision of this page.")
    if isinstance(page, BlogPost):
        return _publish_post_revision(page, revision)
    return _publish_doc_revision(page, revision)


@transaction.atomic
def revision_restore(*, actor, page, revision, publish: bool = False, change_summary: str = ""):
    """Brings back an old revision's content as a new revision (history only grows). On a live page it
    is a draft unless ``publish``; on a page that is not live yet it is the page's content at once."""
    require(actor, _rule(page, "change"), page)
    if getattr(revision, "post_id", None) != page.pk and getattr(revision, "page_id", None) != page.pk:
        raise ValidationError("Not a revision of this page.")
    summary = change_summary or f"Restored the revision of {revision.created_at:%Y-%m-%d %H:%M} UTC"
    is_live = page.status == PublicationStatus.PUBLISHED if isinstance(page, BlogPost) else page.is_published
    restored = revisions.revision_record(
        page=page, author=actor, change_summary=summary, content=revision.content, live=False
    )
    if publish or not is_live:
        if isinstance(page, BlogPost):
            page = BlogPost.objects.select_for_update().get(pk=page.pk)
            revisions.apply_snapshot(page, restored.content)
            page.reading_time = blocks.reading_time_minutes(page.content)
            if publish:
                return _publish_post_revision(page, restored)
            page.save()
            _sync_tags(page)
        else:
            if publish:
                return _publish_doc_revision(page, restored)
            page = Documentation.objects.select_for_update().get(pk=page.pk)
            revisions.apply_snapshot(page, restored.content)
            _keep_doc_parent_valid(page)
            page.save()
            _after_doc_change(page)
        revisions.mark_published(page, restored)
        _invalidate_on_commit("blog" if isinstance(page, BlogPost) else "docs")
    return page


def publish_due(*, now: datetime | None = None) -> int:
    """Publishes every scheduled revision that is due, and drops the cached blog pages when a
    scheduled post's time has come. Safe to run twice, and from two workers at once."""
    from django.core.cache import cache as django_cache

    now = now or timezone.now()
    published = 0
    checked_at = django_cache.get(DUE_CHECKED_KEY)
    came_due = BlogPost.objects.filter(status=PublicationStatus.PUBLISHED, published_at__lte=now)
    if checked_at is None or came_due.filter(published_at__gt=checked_at).exists():
        cache.invalidate("blog")
    django_cache.set(DUE_CHECKED_KEY, now, timeout=None)
    for model, page_field, publish in (
        (BlogRevision, "post", _publish_post_revision),
        (DocumentationRevision, "page", _publish_doc_revision),
    ):
        for revision_id in model.objects.filter(go_live_at__lte=now, published_at__isnull=True).values_list(
            "pk", flat=True
        ):
            with transaction.atomic():
                revision = (
                    model.objects.select_for_update(skip_locked=True)
                    .filter(pk=revision_id, go_live_at__lte=now, published_at__isnull=True)
                    .select_related(page_field)
                    .first()
                )
                if revision is None:
                    continue
                try:
                    publish(getattr(revision, page_field), revision)
                    published += 1
                except ValidationError:
                    # It can no longer go live as it is (its slug was taken): leave it as a draft.
                    model.objects.filter(pk=revision.pk).update(go_live_at=None)
    return published
