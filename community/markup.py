"""Forum text as HTML: markdown with highlighted code (``content.blocks``), then ``@username`` linked to
the profile of an existing active user.

Linking runs on the *sanitised* HTML: every text node outside links and code is re-escaped and only
our own ``<a class="mention">`` is added around a matched handle, so a mention can never carry markup.
Many texts render together with one user lookup (a page of replies costs one query, not one each).
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

from django.contrib.auth import get_user_model
from django.db.models.functions import Lower
from django.urls import reverse

from content.blocks import render_markdown

from .mentions import MENTION

_NO_LINKS_INSIDE = {"a", "code", "pre"}
MAX_LOOKUP_NAMES = 500  # handles looked up per batch; past that, further names stay plain text


class _TextNodes(HTMLParser):
    """Writes sanitised HTML back as it came, passing each text node outside links and code through ``on_text``
    (which returns HTML); text inside them is only re-escaped."""

    def __init__(self, on_text):
        super().__init__(convert_charrefs=True)
        self.on_text = on_text
        self.out: list[str] = []
        self.inside = 0

    def handle_starttag(self, tag, attrs):
        self.out.append(self.get_starttag_text())
        if tag in _NO_LINKS_INSIDE:
            self.inside += 1

    def handle_startendtag(self, tag, attrs):
        self.out.append(self.get_starttag_text())

    def handle_endtag(self, tag):
        self.out.append(f"</{tag}>")
        if tag in _NO_LINKS_INSIDE and self.inside:
            self.inside -= 1

    def handle_data(self, data):
        self.out.append(escape(data, quote=False) if self.inside else self.on_text(data))

    def run(self, markup: str) -> str:
        self.feed(markup)
        self.close()
        return "".join(self.out)


def _names_in(markup: str, into: set[str]) -> None:
    def collect(text: str) -> str:
        into.update(match.group(1).lower() for match in MENTION.finditer(text))
        return ""

    if "@" in markup:
        _TextNodes(collect).run(markup)


def _active_handles(names: set[str]) -> dict[str, str]:
    """``{lower-case handle: handle}`` for the active users among ``names`` (handles are unique in any case)."""
    if not names:
        return {}
    wanted = sorted(names)[:MAX_LOOKUP_NAMES]
    rows = (
        get_user_model().objects.annotate(handle=Lower("username")).filter(handle__in=wanted, is_active=True)
    )
    return {username.lower(): username for username in rows.values_list("username", flat=True)}


def link_mentions(markup: str, handles: dict[str, str]) -> str:
    """``markup`` (sanitised HTML) with each ``@name`` of ``handles`` outside links and code made a profile link."""
    if not handles or "@" not in markup:
        return markup

    def link(text: str) -> str:
        parts, last = [], 0
        for match in MENTION.finditer(text):
            username = handles.get(match.group(1).lower())
            if username is None:
                continue
            url = reverse("profile_detail", args=[username])
            parts.append(escape(text[last : match.start()], quote=False))
            parts.append(f'<a class="mention" href="{escape(url)}">{escape(match.group(0), quote=False)}</a>')
            last = match.end()
        parts.append(escape(text[last:], quote=False))
        return "".join(parts)

    return _TextNodes(link).run(markup)


def forum_html_many(texts) -> list[str]:
    """Each forum text rendered, sanitised, highlighted and with its mentions linked; one query for all."""
    rendered = [render_markdown(text, highlight=True) for text in texts]
    names: set[str] = set()
    for markup in rendered:
        _names_in(markup, names)
    handles = _active_handles(names)
    return [link_mentions(markup, handles) for markup in rendered]


def forum_html(text: str) -> str:
    return forum_html_many([text])[0]
