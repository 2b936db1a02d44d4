"""Reading rendered HTML for anything a browser would execute: inline or foreign scripts, ``on*`` handlers,
and ``javascript:``-like URLs. html.parser reads attributes as browsers do (entities decoded, any quoting)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Script types a browser does not run: data blocks (json_script, allauth's data-allauth-onload).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json", "text/template"}
# Scripts of ours served by a view rather than from static files: the admin's translations catalogue and
# Swagger UI's start-up script (drf-spectacular's split view).
SAME_ORIGIN_SCRIPTS = ("/admin/jsi18n/", "/api/docs/?script=")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcdoc"}
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "data:image/svg+xml", "data:application")


def dangerous_url(value: str) -> bool:
    """Browsers drop tabs, newlines and leading spaces before reading the scheme ("java\tscript:" runs)."""
    return _CONTROL.sub("", value).lower().startswith(DANGEROUS_SCHEMES)


class _Executable(HTMLParser):
    def __init__(self, static_prefix: str):
        super().__init__(convert_charrefs=True)
        self.static_prefix = static_prefix
        self.findings: list[str] = []
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def _check(self, tag, attrs):
        values = {name.lower(): value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.findings.append(f"<{tag} {name}={value!r}>")
            if name in URL_ATTRIBUTES and dangerous_url(value):
                self.findings.append(f"<{tag} {name}={value!r}>")
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh" and "javascript" in values.get("content", "").lower():
            self.findings.append(f"<meta refresh {values.get('content')!r}>")
        if tag in {"object", "embed", "frame", "base"}:
            self.findings.append(f"<{tag}>")
        if tag == "script":
            self.scripts.append(values)
            kind = values.get("type", "").lower()
            if kind in DATA_SCRIPT_TYPES:
                return
            src = values.get("src")
            if src is None:
                if "nonce" not in values:
                    self.findings.append("<script> without src or nonce")
            elif not src.startswith(self.static_prefix) and src not in SAME_ORIGIN_SCRIPTS and not src.startswith(SAME_ORIGIN_SCRIPTS):
                self.findings.append(f"<script src={src!r}> not one of our scripts")


def executable_markup(html: str, *, static_prefix: str = "/static/") -> list[str]:
    """What in ``html`` could run script: [] for a page that is inert apart from our own static scripts."""
    parser = _Executable(static_prefix)
    parser.feed(html)
    parser.close()
    return parser.findings


def csp_directives(header: str) -> dict[str, list[str]]:
    """``Content-Security-Policy`` as {directive: [sources]}."""
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives
