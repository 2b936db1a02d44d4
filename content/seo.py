"""What a page tells search engines and link previews: title, description, image, canonical URL, robots.

Every URL here is absolute on ``SITE_URL`` — never the request's Host header, because the tags are
cached with the page and a forged Host would otherwise poison them for everyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings

DESCRIPTION_LIMIT = 300


@dataclass(frozen=True)
class Seo:
    title: str
    description: str
    url: str  # absolute canonical URL
    image: str = ""  # absolute, or empty
    noindex: bool = False
    type: str = "website"  # OpenGraph type: website, article
    published_time: str = ""  # ISO 8601, articles only
    modified_time: str = ""
    author: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def twitter_card(self) -> str:
        return "summary_large_image" if self.image else "summary"


def absolute_url(value: str) -> str:
    """``value`` as an absolute URL: an http(s) URL as it is, a site path on SITE_URL; anything else empty."""
    value = (value or "").strip()
    if value.startswith(("https://", "http://")):
        return value
    if value.startswith("/") and not value.startswith("//"):
        return settings.SITE_URL + value
    return ""


def _description(text: str) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    return text[:DESCRIPTION_LIMIT].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def seo_for_post(post, *, preview: bool = False) -> Seo:
    """A post's tags: its ``seo_meta`` where set, else its title, excerpt and featured image."""
    meta = post.seo_meta if isinstance(post.seo_meta, dict) else {}
    return Seo(
        title=meta.get("title") or post.title,
        description=_description(meta.get("description") or post.excerpt),
        url=absolute_url(meta.get("canonical") or "") or absolute_url(post.get_absolute_url()),
        image=absolute_url(meta.get("image") or post.featured_image),
        # A preview must never be indexed, whatever the post says.
        noindex=bool(meta.get("noindex")) or preview,
        type="article",
        published_time=post.published_at.isoformat() if post.published_at else "",
        modified_time=post.updated_at.isoformat() if post.updated_at else "",
        author=post.author.username if post.author_id and post.author else "",
        tags=tuple(post.tags or ()),
    )


def seo_for_page(*, title: str, description: str, path: str, noindex: bool = False) -> Seo:
    return Seo(title=title, description=_description(description), url=absolute_url(path), noindex=noindex)
