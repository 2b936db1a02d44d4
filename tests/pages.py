"""Reading a rendered page as a browser would: which URLs it makes the browser fetch by itself.

Assertions about a page's assets go through its parsed attributes, never a substring of the whole page:
random tokens (CSRF, keys, ids) in the same page can contain any short word.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

# Attributes whose URL the browser fetches while rendering (links a person follows, like <a href>, are not).
_FETCHED = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
    "image": ("href",),
    "use": ("href",),
}
# <link rel=...> kinds that load something; canonical, alternate, next and the like do not.
_FETCHING_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "mask-icon", "manifest", "preload",
                  "modulepreload", "prefetch", "preconnect", "dns-prefetch"}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


class _Fetches(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        names = _FETCHED.get(tag, ())
        if tag == "link" and _FETCHING_RELS & set(values.get("rel", "").lower().split()):
            names = ("href", "imagesrcset")
        for name in names:
            if name in values:
                self.urls += _srcset(values[name]) if name.endswith("srcset") else [values[name].strip()]
        if "style" in values:
            self.urls += _css_urls(values["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.urls += _css_urls(data)


def _srcset(value: str) -> list[str]:
    return [candidate.split()[0] for candidate in value.split(",") if candidate.strip()]


def _css_urls(css: str) -> list[str]:
    return [url or imported for url, imported in _CSS_URL.findall(css)]


def fetched_urls(html: str) -> list[str]:
    """Every URL the page makes a browser fetch (scripts, styles, icons, images, frames, CSS url()s)."""
    parser = _Fetches()
    parser.feed(html)
    parser.close()
    return parser.urls


def foreign_fetches(html: str, *, host: str = "testserver") -> list[str]:
    """The fetched URLs that point at another origin than ``host`` (absolute or scheme-relative ``//``)."""
    return [url for url in fetched_urls(html) if urlsplit(url).netloc and urlsplit(url).hostname != host]
