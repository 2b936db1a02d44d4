"""Blog pages: the list (all posts, or one tag's), a post, and the Atom feed.

What the public sees is rendered once and cached (``content.cache``, section "blog"): the services drop
it on every change, and a cached listing also expires by itself when a scheduled post's time comes, so
the list is right even before the beat task has run. Only the parts that are the same for everyone are
cached (the ``<head>`` tags and the page body); the site chrome around them is rendered per request.
Staff previews of drafts, scheduled and archived posts are never cached and never counted.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from django.contrib.syndication.views import Feed
from django.core.paginator import EmptyPage, Paginator
from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from agentwise.access import can
from agentwise.errors import NotFound

from . import blocks, cache, revisions, selectors, services
from .models import PublicationStatus
from .permissions import post_is_public
from .seo import absolute_url, seo_for_page, seo_for_post

PAGE_SIZE = 10
FEED_SIZE = 20
BLURB = "Field notes on running AI coding agents well: workflows, costs, guardrails."
MAX_PAGE_DIGITS = 6


# --- caching -------------------------------------------------------------------------------------


def cached_public(key: str, render_value):
    """``render_value()`` cached in the "blog" section until the next change, or until the next
    scheduled post goes public, whichever comes first. A render that raises is not cached."""

    def render_entry():
        stale_at = selectors.blog_post_next_scheduled()  # read first: a post due meanwhile re-renders
        return {"value": render_value(), "stale_at": stale_at}

    entry = cache.cached("blog", key, render_entry)
    if entry["stale_at"] is not None and entry["stale_at"] <= timezone.now():
        cache.invalidate("blog")  # what publish_due_task would do a few seconds from now
        entry = cache.cached("blog", key, render_entry)
    return entry["value"]


def _head_html(seo) -> str:
    return render_to_string(
        "content/blog/_seo.html", {"seo": seo, "feed_url": absolute_url(reverse("blog_feed"))}
    )


# --- the list ------------------------------------------------------------------------------------


def _page_number(request) -> int:
    """``?page=`` as a positive number; anything else is a 404 (never cached, never a silent page 1)."""
    values = request.GET.getlist("page")
    if not values:
        return 1
    if len(values) > 1 or not re.fullmatch(rf"[1-9][0-9]{{0,{MAX_PAGE_DIGITS - 1}}}", values[0]):
        raise NotFound()
    return int(values[0])


def _list_path(tag: str | None, number: int = 1) -> str:
    path = reverse("blog_tag", args=[tag]) if tag else reverse("blog_home")
    return path if number == 1 else f"{path}?page={number}"


def _render_list(tag: str | None, number: int) -> dict:
    posts = selectors.blog_post_list(user=None, tag=tag)
    try:
        page = Paginator(posts, PAGE_SIZE).page(number)
    except EmptyPage:
        raise NotFound() from None
    if tag and not page.object_list:
        raise NotFound()  # an unknown tag is not a page (and fills no cache entry)
    title = f"Posts tagged “{tag}”" if tag else "Blog"
    if number > 1:
        title += f" (page {number})"
    seo = seo_for_page(
        title=title,
        description=f"Agentwise blog posts about {tag}." if tag else BLURB,
        path=_list_path(tag, number),
    )
    context = {
        "page": page,
        "tag": tag,
        "blurb": BLURB,
        "previous_url": _list_path(tag, page.previous_page_number()) if page.has_previous() else "",
        "next_url": _list_path(tag, page.next_page_number()) if page.has_next() else "",
    }
    return {
        "title": seo.title,
        "head_html": _head_html(seo),
        "main_html": render_to_string("content/blog/_list.html", context),
    }


@require_safe
def blog_list(request, tag: str | None = None):
    """``/blog/`` (``?tag=`` filters) and ``/blog/tag/<tag>/``: public posts, newest first."""
    if tag is None and "tag" in request.GET:
        tags = request.GET.getlist("tag")
        if len(tags) > 1 or not tags[0] or tags[0] != slugify(tags[0])[:50]:
            raise NotFound()
        tag = tags[0]
    number = _page_number(request)
    page = cached_public(f"list:{tag or ''}:{number}", lambda: _render_list(tag, number))
    return render(request, "content/blog/page.html", page)


# --- a post --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Banner:
    label: str
    detail: str


def _post_context(post, *, preview: bool) -> dict:
    seo = seo_for_post(post, preview=preview)
    context = {
        "post": post,
        "body_html": blocks.render_blocks(post.content),
        "featured_image": absolute_url(post.featured_image) if post.featured_image else "",
    }
    return {
        "post_id": post.pk,
        "title": seo.title,
        "head_html": _head_html(seo),
        "main_html": render_to_string("content/blog/_post.html", context),
    }


class _NoPublicPost(Exception):
    pass


def _public_post_page(slug: str) -> dict | None:
    def render_page():
        post = selectors.blog_posts_public().select_related("author").filter(slug=slug).first()
        if post is None:
            raise _NoPublicPost  # not cached: a scheduled post shows the moment its time comes
        return _post_context(post, preview=False)

    try:
        return cache.cached("blog", f"post:{slug}", render_page)
    except _NoPublicPost:
        return None


def _banner(post, revision=None) -> Banner | None:
    when = "%Y-%m-%d %H:%M UTC"
    if revision is not None:
        if revision.go_live_at:
            return Banner("Scheduled preview", f"this revision goes live on {revision.go_live_at:{when}}.")
        if revision.published_at is None:
            return Banner(
                "Draft preview", "this revision is not published; the public sees the live version."
            )
        return Banner("Revision preview", f"the version saved on {revision.created_at:{when}}.")
    if post.status == PublicationStatus.ARCHIVED:
        return Banner("Archived preview", "this post is archived; only staff can see it.")
    if (
        post.status == PublicationStatus.PUBLISHED
        and post.published_at
        and post.published_at > timezone.now()
    ):
        return Banner(
            "Scheduled preview", f"this post goes live on {post.published_at:{when}}; only staff can see it."
        )
    if not post_is_public(post):
        return Banner("Draft preview", "this post is a draft; only staff can see it.")
    return None


def _staff_post(request, slug: str):
    """Staff: drafts, scheduled and archived posts (and any revision with ``?revision=``) as previews,
    never cached or counted; a public post as everyone sees it, plus a note of unpublished changes."""
    try:
        post = selectors.blog_post_get_visible(user=request.user, slug=slug)
    except NotFound:
        target = selectors.blog_slug_redirect_target(user=request.user, slug=slug)
        if target is None:
            raise
        return HttpResponsePermanentRedirect(target.get_absolute_url())
    revision = None
    if "revision" in request.GET:
        revision = selectors.blog_revision_get(post=post, revision_id=request.GET["revision"])
    banner = _banner(post, revision)
    if banner is None:  # public and live, as everyone sees it
        page = _public_post_page(slug) or _post_context(post, preview=False)
        if request.method == "GET":
            services.blog_post_count_view(post_id=post.pk)
        draft = revisions.draft_revision(post)
        return render(request, "content/blog/page.html", {**page, "staff_post": post, "staff_draft": draft})
    shown = post
    if revision is not None:
        shown = copy.copy(post)
        revisions.apply_snapshot(shown, revision.content)
    page = _post_context(shown, preview=True)
    response = render(request, "content/blog/page.html", {**page, "banner": banner, "staff_post": post})
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_safe
def blog_post(request, slug: str):
    """A post. Old slugs answer 301; what is not public is a 404 (staff get a preview)."""
    if can(request.user, "content.preview"):
        return _staff_post(request, slug)
    page = _public_post_page(slug)
    if page is None:
        target = selectors.blog_slug_redirect_target(user=request.user, slug=slug)
        if target is None:
            raise NotFound()
        return HttpResponsePermanentRedirect(target.get_absolute_url())
    if request.method == "GET":
        services.blog_post_count_view(post_id=page["post_id"])
    return render(request, "content/blog/page.html", page)


# --- the Atom feed -------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all (Django's feed writer raises on the C0 ones: a 500).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value) -> str:
    return _NOT_XML.sub("", str(value or ""))


class _AtomWithContent(Atom1Feed):
    """Atom with each post's whole (sanitised) body as ``<content type="html">``, for feed readers."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        if item.get("content_html"):
            handler.addQuickElement("content", item["content_html"], {"type": "html"})


class BlogFeed(Feed):
    feed_type = _AtomWithContent
    title = "Agentwise blog"
    subtitle = BLURB
    author_name = "Agentwise"

    def link(self):
        return absolute_url(reverse("blog_home"))

    def feed_url(self):
        return absolute_url(reverse("blog_feed"))

    def items(self):
        return list(selectors.blog_posts_public().select_related("author")[:FEED_SIZE])

    def item_title(self, post):
        return xml_text(post.title)

    def item_description(self, post):
        return escape(xml_text(post.excerpt))  # Atom's <summary type="html">: plain text, shown as written

    def item_link(self, post):
        return absolute_url(post.get_absolute_url())

    def item_guid(self, post):
        return f"urn:uuid:{post.pk}"  # stays the same when the slug changes

    item_guid_is_permalink = False

    def item_pubdate(self, post):
        return post.published_at

    def item_updateddate(self, post):
        return post.updated_at

    def item_author_name(self, post):
        return post.author.username if post.author else None

    def item_author_link(self, post):
        return absolute_url(reverse("profile_detail", args=[post.author.username])) if post.author else None

    def item_categories(self, post):
        return [xml_text(tag) for tag in post.tags or []]

    def item_extra_kwargs(self, post):
        return {"content_html": xml_text(blocks.render_blocks(post.content))}


@require_safe
def blog_feed(request):
    """``/blog/feed/``: the newest public posts as Atom, cached like the pages."""
    body = cached_public("feed", lambda: BlogFeed()(request).content)
    return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")
