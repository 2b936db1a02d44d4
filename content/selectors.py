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

# Imported here, not at the top, so the three sections of this file merge without touching each other.
from .models import BlogRevision, BlogSlugRedirect  # noqa: E402


def blog_post_list(*, user, tag: str | None = None, status: str | None = None):
    """What ``user`` may list, with the author joined (one query per page). ``status`` narrows staff
    lists: draft, published (public now), scheduled (published, time still to come) or archived."""
    queryset = blog_posts_visible_to(user).select_related("author")
    if can(user, "content.preview"):
        queryset = queryset.select_related("latest_revision")
    if tag:
        queryset = queryset.filter(tag_rows__tag=tag)
    if status == "published":
        queryset = queryset.filter(status=PublicationStatus.PUBLISHED, published_at__lte=timezone.now())
    elif status == "scheduled":
        queryset = queryset.filter(status=PublicationStatus.PUBLISHED, published_at__gt=timezone.now())
    elif status:
        queryset = queryset.filter(status=status)
    return queryset


def blog_post_next_scheduled():
    """When the next scheduled post goes public (None: nothing waiting). A cached listing made before
    then is stale from that instant, whether or not the beat task has run yet."""
    return (
        BlogPost.objects.filter(status=PublicationStatus.PUBLISHED, published_at__gt=timezone.now())
        .order_by("published_at")
        .values_list("published_at", flat=True)
        .first()
    )


def blog_slug_redirect_target(*, user, slug: str) -> BlogPost | None:
    """The post an old slug now leads to, if ``user`` may see it (a redirect must not reveal a draft)."""
    redirect = BlogSlugRedirect.objects.select_related("post").filter(old_slug=slug).first()
    if redirect is None or not can(user, "content.view_blogpost", redirect.post):
        return None
    return redirect.post


def blog_revision_list(*, post):
    return post.revisions.select_related("author").order_by("-created_at")


def blog_revision_get(*, post, revision_id) -> BlogRevision:
    return get_visible(post.revisions.all(), pk=revision_id)


# Sitemap reads: every public URL of the site that search engines should know.


def blog_sitemap_posts() -> list[BlogPost]:
    """Public posts that may be indexed: not ``noindex``, and not pointing their canonical elsewhere."""
    from .seo import absolute_url

    keep = []
    for post in blog_posts_public().only("slug", "updated_at", "seo_meta"):
        meta = post.seo_meta if isinstance(post.seo_meta, dict) else {}
        canonical = meta.get("canonical") or ""
        own = absolute_url(post.get_absolute_url())
        if meta.get("noindex") or (canonical and absolute_url(canonical) != own):
            continue
        keep.append(post)
    return keep


def documentation_sitemap_pages() -> list[tuple[str, object]]:
    """``[(path, updated_at)]`` of published docs pages whose ancestors are all published, in two queries
    (the URLs come from ``documentation_paths``, the one place that knows their shape)."""
    rows, versions = {}, set()
    for pk, parent_id, version, updated_at in Documentation.objects.filter(is_published=True).values_list(
        "pk", "parent_id", "version", "updated_at"
    ):
        rows[pk] = (parent_id, updated_at)
        versions.add(version)
    if not rows:
        return []
    paths = documentation_paths(versions)
    reachable: dict = {}

    def is_reachable(pk, depth=0) -> bool:
        if pk not in reachable:
            parent_id = rows[pk][0]
            reachable[pk] = depth < 50 and (
                parent_id is None or (parent_id in rows and is_reachable(parent_id, depth + 1))
            )
        return reachable[pk]

    return sorted((paths[pk], rows[pk][1]) for pk in rows if pk in paths and is_reachable(pk))


def profile_sitemap_list():
    """Public profiles (``/u/<username>/``: every active user's), by handle."""
    from accounts.models import Profile

    return (
        # Handles the profile URL can hold (the sign-up form allows no others; a shell might have).
        Profile.objects.filter(user__is_active=True, user__username__regex=r"^[A-Za-z0-9_-]{1,50}$")
        .order_by("user__username")
        .values_list("user__username", "updated_at")
    )


# --- docs --------------------------------------------------------------------------------------


def documentation_visible_to(user):
    if can(user, "content.preview"):
        return Documentation.objects.all()
    return Documentation.objects.filter(is_published=True)


def documentation_get_visible(*, user, **lookup) -> Documentation:
    return get_visible(documentation_visible_to(user), **lookup)


def documentation_versions(user=None) -> list[str]:
    """Versions that have a visible page: ``latest`` first, then newest number first (2.0, 1.10, 1.2)."""
    names = set(documentation_visible_to(user).order_by().values_list("version", flat=True).distinct())

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


def documentation_tree(version: str, user):
    """The whole tree of ``version`` as ``user`` may see it (``content.docs_tree.DocTree``), in one
    query and without page bodies: the sidebar, breadcrumbs and previous/next links all come from it."""
    from .docs_tree import DocNode, tree_build

    rows = Documentation.objects.filter(version=version).values_list(
        "pk", "slug", "title", "category", "position", "is_published", "parent_id"
    )
    nodes = [
        DocNode(
            id=pk,
            slug=slug,
            title=title,
            category=category,
            position=position,
            is_published=published,
            parent_id=parent_id,
        )
        for pk, slug, title, category, position, published, parent_id in rows
    ]
    return tree_build(version, nodes, public_only=not can(user, "content.preview"))


def documentation_switcher(user, *, version: str, path: str) -> list[dict]:
    """Each version the reader can open, newest first, with the URL of the same page (the same slug
    path) when that version has it, else of its first page: ``[{"version", "url", "same_page",
    "current"}]``. One query: only top-level pages and pages whose slug is on the path can matter."""
    from .docs_tree import path_exists, versions_sorted

    slugs = path.strip("/").split("/")
    visible = documentation_visible_to(user)
    rows = (visible.filter(parent__isnull=True) | visible.filter(slug__in=set(slugs))).values_list(
        "pk", "slug", "parent_id", "version", "position", "title"
    )
    pages: dict = {}
    tops: dict = {}
    for pk, slug, parent_id, row_version, position, title in rows:
        pages.setdefault(row_version, {})[pk] = (slug, parent_id)
        if parent_id is None:
            tops.setdefault(row_version, []).append((position, title.casefold(), slug))
    entries = []
    for name in versions_sorted(tops):
        same = path_exists(pages[name], slugs)
        target = "/".join(slugs) if same else min(tops[name])[2]
        entries.append(
            {"version": name, "url": f"/docs/{name}/{target}/", "same_page": same, "current": name == version}
        )
    return entries


def documentation_history(page: Documentation, user, limit: int = 20) -> list:
    """A page's edit history, newest first. Staff see every revision (drafts and scheduled ones too)
    with its author and summary; everyone else sees when a version went live."""
    if can(user, "content.view_revisions", page):
        return list(page.revisions.select_related("author").order_by("-created_at")[:limit])
    went_live = page.revisions.filter(published_at__isnull=False).order_by("-published_at")
    return list(went_live.only("pk", "page_id", "published_at")[:limit])


def documentation_version_pages(version: str):
    """Every page of a version, bodies included (import and export compare and write whole versions)."""
    return Documentation.objects.filter(version=version).order_by("position", "title", "slug")


# --- search --------------------------------------------------------------------------------------


# (search reads added below this line)


def documentation_versions_cached(user=None) -> list[str]:
    """``documentation_versions`` from the docs cache: a DISTINCT over every page costs ~10 ms at
    100,000 pages, too much for each keystroke of a search. Dropped with the docs pages on change;
    kept in the process meanwhile (one cache round trip a search, for the generation)."""
    audience = "staff" if can(user, "content.preview") else "public"
    return list(cache.cached_here("docs", f"versions:{audience}", lambda: documentation_versions(user)))


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
