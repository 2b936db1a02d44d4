"""Reads for the blog and the docs: what the public sees, what staff see, the docs tree."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from agentwise.access import can, get_visible

from .models import BlogPost, Documentation, PublicationStatus

# --- blog --------------------------------------------------------------------------------------


def blog_posts_public():
    """Published posts whose time has come, newest first."""
    return BlogPost.objects.filter(
        status=PublicationStatus.PUBLISHED, published_at__lte=timezone.now()
    ).order_by("-published_at", "-created_at")


def blog_posts_visible_to(user):
    """Staff see every post (drafts, scheduled, archived); everyone else the public ones."""
    if can(user, "content.preview"):
        return BlogPost.objects.order_by(F("published_at").desc(nulls_first=True), "-created_at")
    return blog_posts_public()


def blog_post_get_visible(*, user, **lookup) -> BlogPost:
    return get_visible(blog_posts_visible_to(user).select_related("author"), **lookup)


# (blog reads added below this line)


# --- docs --------------------------------------------------------------------------------------


def documentation_visible_to(user):
    if can(user, "content.preview"):
        return Documentation.objects.all()
    return Documentation.objects.filter(is_published=True)


def documentation_get_visible(*, user, **lookup) -> Documentation:
    return get_visible(documentation_visible_to(user), **lookup)


def documentation_versions(user=None) -> list[str]:
    """Versions that have a visible page: ``latest`` first, then newest number first (2.0, 1.10, 1.2)."""
    names = set(documentation_visible_to(user).values_list("version", flat=True).distinct())

    def key(name: str):
        parts = []
        for piece in name.replace("-", ".").split("."):
            parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
        return parts

    numbered = sorted((n for n in names if n != "latest"), key=key, reverse=True)
    return (["latest"] if "latest" in names else []) + numbered


def documentation_paths(versions) -> dict:
    """``{page id: "/docs/<version>/<slug>/<slug>/"}`` for every page of ``versions``, in one query
    (a page's URL is the slugs of its ancestors), for the tree, search results and the sitemap."""
    rows = {
        pk: (slug, parent_id, version)
        for pk, slug, parent_id, version in Documentation.objects.filter(
            version__in=list(versions)
        ).values_list("pk", "slug", "parent_id", "version")
    }
    paths: dict = {}

    def path_of(pk, depth=0):
        if pk in paths:
            return paths[pk]
        slug, parent_id, version = rows[pk]
        if parent_id is None or parent_id not in rows or depth > 50:
            prefix = f"/docs/{version}/"
        else:
            prefix = path_of(parent_id, depth + 1)
        paths[pk] = f"{prefix}{slug}/"
        return paths[pk]

    for pk in rows:
        path_of(pk)
    return paths


# (docs reads added below this line)


# --- search --------------------------------------------------------------------------------------


# (search reads added below this line)
