"""``/sitemap.xml``: an index of one sitemap per section — blog posts, docs pages, public forum topics,
public profiles.

An index rather than one list, because a sitemap holds at most 50,000 URLs and the docs alone may
pass that (each section pages itself with ``?p=``). Locations are absolute on ``SITE_URL``, not on the
Sites framework's domain nor the request's Host (which a client chooses, and which would be cached).
The blog and docs sections are cached with their pages and dropped with them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import SitemapIndexItem
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_safe

from agentwise.errors import NotFound

from . import cache, selectors


class SiteSitemap(Sitemap):
    """Items are ``(path, last modified)`` pairs; URLs go on ``SITE_URL``."""

    def get_protocol(self, protocol=None):
        return urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site=None):
        return urlsplit(settings.SITE_URL).netloc

    def location(self, item):
        return item[0]

    def lastmod(self, item):
        return item[1]


class BlogSitemap(SiteSitemap):
    changefreq = "weekly"
    priority = 0.7

    def items(self):
        posts = selectors.blog_sitemap_posts()
        latest = max((post.updated_at for post in posts), default=None)
        return [(reverse("blog_home"), latest), *((p.get_absolute_url(), p.updated_at) for p in posts)]


class DocumentationSitemap(SiteSitemap):
    changefreq = "weekly"
    priority = 0.6

    def items(self):
        return cache.cached("docs", "sitemap-entries", selectors.documentation_sitemap_pages)


class ProfileSitemap(SiteSitemap):
    changefreq = "monthly"
    priority = 0.3

    def items(self):
        return selectors.profile_sitemap_list()

    def location(self, item):
        return reverse("profile_detail", args=[item[0]])


class ForumSitemap(SiteSitemap):
    """Topics of the public forums, the pages anyone (a crawler too) may read; lastmod is the topic's
    latest activity."""

    changefreq = "daily"
    priority = 0.5

    def items(self):
        from community.selectors import forum_sitemap_topics

        return forum_sitemap_topics()

    def location(self, item):
        return item.get_absolute_url()

    def lastmod(self, item):
        return item.last_activity_at


SITEMAPS = {"blog": BlogSitemap, "docs": DocumentationSitemap, "forum": ForumSitemap, "profiles": ProfileSitemap}


def _section_path(section: str, page: int) -> str:
    path = reverse("sitemap_section", kwargs={"section": section})
    return path if page == 1 else f"{path}?p={page}"


def _xml(body) -> HttpResponse:
    response = HttpResponse(body, content_type="application/xml; charset=utf-8")
    response["X-Robots-Tag"] = "noindex, noodp, noarchive"  # the sitemap itself is not a search result
    return response


@require_safe
def sitemap_index(request):
    """Every section's every page, as a sitemap index."""
    entries = []
    for section, sitemap_class in SITEMAPS.items():
        for page in sitemap_class().paginator.page_range:
            entries.append(SitemapIndexItem(settings.SITE_URL + _section_path(section, page), None))
    return _xml(render_to_string("sitemap_index.xml", {"sitemaps": entries}))


@require_safe
def sitemap_section(request, section: str):
    """One section's URLs (``?p=`` for its later pages)."""
    if section not in SITEMAPS:
        raise NotFound()
    raw = request.GET.get("p", "1")
    if len(request.GET.getlist("p")) > 1 or not re.fullmatch(r"[1-9][0-9]{0,5}", raw):
        raise NotFound()
    page = int(raw)

    def render_page() -> str:
        try:
            urls = SITEMAPS[section]().get_urls(page=page)
        except (EmptyPage, PageNotAnInteger):
            raise NotFound() from None
        return render_to_string("sitemap.xml", {"urlset": urls})

    from .blog_views import cached_public

    key = f"sitemap:{section}:{page}"
    if section == "blog":  # expires with the next scheduled post, like the blog's list
        return _xml(cached_public(key, render_page))
    if section == "docs":
        return _xml(cache.cached("docs", key, render_page))
    return _xml(render_page())  # profiles change outside content: not cached
