"""Reads for the blog and the docs: what the public sees, what staff see, the docs tree."""

from __future__ import annotations

from django.db import connection
from django.db.models import F
from django.utils import timezone

from agentwise.access import can, get_visible

from . import cache, search
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


def documentation_versions_cached(user=None) -> list[str]:
    """``documentation_versions`` from the docs cache: a DISTINCT over every page costs ~10 ms at
    100,000 pages, too much for each keystroke of a search. Dropped with the docs pages on change."""
    audience = "staff" if can(user, "content.preview") else "public"
    return cache.cached("docs", f"versions:{audience}", lambda: documentation_versions(user))


def documentation_paths_for(page_ids) -> dict:
    """``documentation_paths`` for some pages only: ``{page id: "/docs/<version>/<slug>/…/"}``.

    One recursive query climbs from the pages to their roots, so its cost follows the pages asked
    for and their depth, not the size of their versions (a search shows 10 of 100,000 pages).
    """
    ids = list(dict.fromkeys(page_ids))
    if not ids:
        return {}
    pk_field = Documentation._meta.pk
    table = connection.ops.quote_name(Documentation._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    sql = f"""
        WITH RECURSIVE chain(id, slug, parent_id, version, depth) AS (
            SELECT id, slug, parent_id, version, 0 FROM {table} WHERE id IN ({placeholders})
            UNION
            SELECT d.id, d.slug, d.parent_id, d.version, c.depth + 1
            FROM {table} d JOIN chain c ON d.id = c.parent_id AND d.version = c.version
            WHERE c.depth < 50
        )
        SELECT DISTINCT id, slug, parent_id, version FROM chain
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk_field.get_db_prep_value(pk, connection) for pk in ids])
        rows = {
            pk_field.to_python(pk): (slug, pk_field.to_python(parent_id) if parent_id else None, version)
            for pk, slug, parent_id, version in cursor.fetchall()
        }
    paths: dict = {}

    def path_of(pk, depth=0):
        if pk not in paths:
            slug, parent_id, version = rows[pk]
            if parent_id is None or parent_id not in rows or depth > 50:
                prefix = f"/docs/{version}/"
            else:
                prefix = path_of(parent_id, depth + 1)
            paths[pk] = f"{prefix}{slug}/"
        return paths[pk]

    return {
        pk_field.to_python(pk): path_of(pk_field.to_python(pk))
        for pk in ids
        if pk_field.to_python(pk) in rows
    }


def documentation_search(
    *, query: str, version: str | None = None, user=None, limit: int = search.DEFAULT_LIMIT
):
    """Docs pages visible to ``user`` matching ``query`` in ``version`` (default: the newest), best
    first, as ``{"title", "url", "snippet", "version", "rank"}``; the snippet is safe HTML. An empty
    query, or a version with no visible page, finds nothing. One query on PostgreSQL (the versions
    come from the cache), two on SQLite, whatever the size."""
    if not (query or "").strip():
        return []
    versions = documentation_versions_cached(user)
    version = version or (versions[0] if versions else None)
    if version not in versions:
        return []
    matches = search.documentation_matches(
        documentation_visible_to(user).filter(version=version), query=query, limit=limit
    )
    # PostgreSQL climbs the paths in the search statement; the fallback asks here.
    paths = documentation_paths_for([match["pk"] for match in matches if not match.get("path")])
    for match in matches:
        if match.get("path"):
            paths[match["pk"]] = f"/docs/{match['version']}/{match['path']}/"
    return [
        {
            "title": match["title"],
            "url": paths.get(match["pk"], f"/docs/{match['version']}/"),
            "snippet": match["snippet"],
            "version": match["version"],
            "rank": round(match["rank"], 6),
        }
        for match in matches
    ]
