"""Typed content blocks, the body of blog posts and docs pages: validation, sanitised HTML, plain text.

A body is a list of objects, each with a ``type``:

    {"type": "paragraph", "text": "<markdown>"}
    {"type": "heading", "text": "Install", "level": 2}          # level 2-4, default 2
    {"type": "code", "language": "python", "text": "print(1)"}
    {"type": "image", "url": "https://…/a.png", "alt": "A chart", "caption": ""}
    {"type": "quote", "text": "<markdown>", "attribution": ""}
    {"type": "callout", "text": "<markdown>", "style": "info"}    # info, tip, warning, danger
    {"type": "embed", "url": "https://www.youtube.com/watch?v=…"}  # allowed providers only

Staff write these, but they are still rendered as untrusted input: markdown with raw HTML off, then
nh3 with an allow-list, so no block can carry a script or a ``javascript:`` link.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import nh3
from django.core.exceptions import ValidationError
from django.utils.text import slugify
from markdown_it import MarkdownIt

MAX_BLOCKS = 1000
MAX_TEXT = 100_000
HEADING_LEVELS = (2, 3, 4)
CALLOUT_STYLES = ("info", "tip", "warning", "danger")
LANGUAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+#._-]{0,39}$")
WORDS_PER_MINUTE = 275
SECONDS_PER_IMAGE = 12

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


# Highlighted code adds only ``class`` on ``pre``/``code``/``span``, and only values of the shapes the
# highlighter writes: ``highlight`` on the block, ``language-<lexer alias>`` on the code, Pygments'
# short token classes (``k``, ``nf``, ``s2``) on spans. Anything else in a class is dropped.
_CODE_CLASS_VALUES = {
    "pre": re.compile(r"^highlight$"),
    "code": re.compile(r"^language-[a-z0-9][a-z0-9+#._-]{0,39}$"),
    "span": re.compile(r"^[a-z][a-z0-9]{0,3}$"),
}
HIGHLIGHT_ATTRIBUTES = {
    **ALLOWED_ATTRIBUTES,
    **{tag: ALLOWED_ATTRIBUTES.get(tag, set()) | {"class"} for tag in _CODE_CLASS_VALUES},
}


def _code_class_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute != "class":
        return value
    pattern = _CODE_CLASS_VALUES.get(tag)
    return value if pattern is not None and pattern.fullmatch(value) else None


def sanitize_html(markup: str, *, code_classes: bool = False) -> str:
    """The one allow-list every rendered body goes through; ``code_classes`` also keeps the
    highlighter's classes (see ``_CODE_CLASS_VALUES``), never any other attribute."""
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS | ({"span"} if code_classes else set()),
        attributes=HIGHLIGHT_ATTRIBUTES if code_classes else ALLOWED_ATTRIBUTES,
        attribute_filter=_code_class_filter if code_classes else None,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def highlight_code(code: str, language: str) -> str:
    """Fenced code in a language Pygments knows, as ``<pre class="highlight"><code class="language-…">``
    with token spans (Pygments escapes the code); "" for an unknown language, so markdown-it renders it
    plainly. Colours: static/css/highlight.css."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    if not language or not LANGUAGE_RE.fullmatch(language):
        return ""
    try:
        lexer = get_lexer_by_name(language.lower())
    except ClassNotFound:
        return ""
    alias = lexer.aliases[0] if lexer.aliases else "text"
    body = highlight(code, lexer, HtmlFormatter(nowrap=True))
    return f'<pre class="highlight"><code class="language-{html.escape(alias)}">{body}</code></pre>\n'


_markdown_highlighted = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": False, "highlight": lambda code, lang, _attrs: highlight_code(code, lang)}
).enable(["table", "strikethrough"])


def render_markdown(text: str, *, highlight: bool = False) -> str:
    """Markdown (raw HTML off) through the allow-list; ``highlight`` colours fenced code that names a
    language (forum posts), keeping only the highlighter's classes."""
    if highlight:
        return sanitize_html(_markdown_highlighted.render(text or ""), code_classes=True)
    return sanitize_html(_markdown.render(text or ""))


# --- embeds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Embed:
    provider: str
    src: str


def _youtube(parts) -> str | None:
    host = parts.hostname or ""
    if host in {"youtu.be"}:
        video = parts.path.strip("/")
    elif host.endswith("youtube.com"):
        if parts.path == "/watch":
            video = (parse_qs(parts.query).get("v") or [""])[0]
        elif parts.path.startswith(("/embed/", "/shorts/")):
            video = parts.path.split("/")[2]
        else:
            return None
    else:
        return None
    return (
        f"https://www.youtube-nocookie.com/embed/{video}"
        if re.fullmatch(r"[A-Za-z0-9_-]{6,20}", video)
        else None
    )


def _vimeo(parts) -> str | None:
    if (parts.hostname or "").removeprefix("www.") not in {"vimeo.com", "player.vimeo.com"}:
        return None
    video = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"https://player.vimeo.com/video/{video}" if video.isdigit() else None


def _loom(parts) -> str | None:
    if (parts.hostname or "").removeprefix("www.") != "loom.com":
        return None
    match = re.fullmatch(r"/(?:share|embed)/([0-9a-f]{32})", parts.path)
    return f"https://www.loom.com/embed/{match.group(1)}" if match else None


def _asciinema(parts) -> str | None:
    if (parts.hostname or "") != "asciinema.org":
        return None
    match = re.fullmatch(r"/a/([A-Za-z0-9]{1,40})(?:/iframe)?", parts.path)
    return f"https://asciinema.org/a/{match.group(1)}/iframe" if match else None


EMBED_PROVIDERS = {"youtube": _youtube, "vimeo": _vimeo, "loom": _loom, "asciinema": _asciinema}


def embed_for(url: str) -> Embed | None:
    """The provider's own player URL for a link to an allowed provider, rebuilt from the id alone
    (never the URL as given), or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "https":
        return None
    for provider, build in EMBED_PROVIDERS.items():
        src = build(parts)
        if src:
            return Embed(provider, src)
    return None


# --- validation --------------------------------------------------------------------------------


def _text(block, key, *, required=True, limit=MAX_TEXT) -> str:
    value = block.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"“{key}” must be a string")
    if required and not value.strip():
        raise ValueError(f"“{key}” is required")
    if len(value) > limit:
        raise ValueError(f"“{key}” is longer than {limit} characters")
    return value


def _url(value: str, key: str) -> str:
    parts = urlsplit(value)
    if value.startswith("/") and not value.startswith("//"):
        return value
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"“{key}” must be an http(s) URL or a site path")
    return value


def _clean_block(block) -> dict:
    if not isinstance(block, dict):
        raise ValueError("must be an object with a “type”")
    kind = block.get("type")
    if kind == "paragraph":
        return {"type": kind, "text": _text(block, "text")}
    if kind == "heading":
        level = block.get("level", 2)
        if level not in HEADING_LEVELS or isinstance(level, bool):
            raise ValueError("“level” must be 2, 3 or 4")
        text = _text(block, "text", limit=255)
        if "\n" in text:
            raise ValueError("“text” must be one line")
        return {"type": kind, "text": text, "level": level}
    if kind == "code":
        language = block.get("language", "") or ""
        if not isinstance(language, str) or (language and not LANGUAGE_RE.fullmatch(language)):
            raise ValueError("“language” must be a name such as python, bash or c++")
        return {"type": kind, "language": language, "text": _text(block, "text")}
    if kind == "image":
        url = _url(_text(block, "url", limit=2000), "url")
        return {
            "type": kind,
            "url": url,
            "alt": _text(block, "alt", limit=500),
            "caption": _text(block, "caption", required=False, limit=500),
        }
    if kind == "quote":
        return {
            "type": kind,
            "text": _text(block, "text"),
            "attribution": _text(block, "attribution", required=False, limit=255),
        }
    if kind == "callout":
        style = block.get("style", "info")
        if style not in CALLOUT_STYLES:
            raise ValueError(f"“style” must be one of {', '.join(CALLOUT_STYLES)}")
        return {"type": kind, "text": _text(block, "text"), "style": style}
    if kind == "embed":
        url = _text(block, "url", limit=2000)
        if embed_for(url) is None:
            raise ValueError(f"“url” must be an https link to one of: {', '.join(EMBED_PROVIDERS)}")
        return {"type": kind, "url": url, "caption": _text(block, "caption", required=False, limit=500)}
    if not isinstance(kind, str) or not kind:
        raise ValueError("needs a “type”")
    raise ValueError(f"unknown type “{kind[:40]}”; use one of {', '.join(BLOCK_TYPES)}")


BLOCK_TYPES = ("paragraph", "heading", "code", "image", "quote", "callout", "embed")


def clean_blocks(value) -> list[dict]:
    """The blocks, normalised (unknown keys dropped, defaults filled), or a ValidationError whose
    messages name each bad block by position and type."""
    if not isinstance(value, list):
        raise ValidationError("Content must be a list of blocks.", code="invalid")
    if len(value) > MAX_BLOCKS:
        raise ValidationError(f"Content may have at most {MAX_BLOCKS} blocks.", code="invalid")
    cleaned, errors = [], []
    for index, block in enumerate(value, start=1):
        try:
            cleaned.append(_clean_block(block))
        except ValueError as error:
            kind = (
                block.get("type") if isinstance(block, dict) and isinstance(block.get("type"), str) else None
            )
            label = f"Block {index}" + (f" ({kind[:40]})" if kind else "")
            errors.append(ValidationError(f"{label}: {error}.", code="invalid_block"))
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- output ------------------------------------------------------------------------------------


def heading_anchor(text: str) -> str:
    return slugify(text) or "section"


def _render_block(block: dict, anchors: set) -> str:
    kind = block["type"]
    if kind == "paragraph":
        return render_markdown(block["text"])
    if kind == "heading":
        anchor = base = heading_anchor(block["text"])
        counter = 2
        while anchor in anchors:
            anchor, counter = f"{base}-{counter}", counter + 1
        anchors.add(anchor)
        level = block["level"]
        return (
            f'<h{level} id="{anchor}">{html.escape(block["text"])}'
            f'<a class="anchor" href="#{anchor}" aria-label="Link to this section">#</a></h{level}>'
        )
    if kind == "code":
        language = block["language"]
        attrs = (
            f' class="language-{html.escape(language)}" data-language="{html.escape(language)}"'
            if language
            else ""
        )
        return f"<pre><code{attrs}>{html.escape(block['text'])}</code></pre>"
    if kind == "image":
        caption = f"<figcaption>{html.escape(block['caption'])}</figcaption>" if block.get("caption") else ""
        img = sanitize_html(f'<img src="{html.escape(block["url"])}" alt="{html.escape(block["alt"])}">')
        img = img.replace("<img ", '<img loading="lazy" ', 1)
        return f'<figure class="block-image">{img}{caption}</figure>'
    if kind == "quote":
        attribution = block.get("attribution")
        footer = f"<footer>— {html.escape(attribution)}</footer>" if attribution else ""
        return f"<blockquote>{render_markdown(block['text'])}{footer}</blockquote>"
    if kind == "callout":
        return f'<aside class="callout callout-{block["style"]}" role="note">{render_markdown(block["text"])}</aside>'
    if kind == "embed":
        embed = embed_for(block["url"])
        if embed is None:
            return ""
        caption = f"<figcaption>{html.escape(block['caption'])}</figcaption>" if block.get("caption") else ""
        return (
            f'<figure class="block-embed embed-{embed.provider}"><iframe src="{html.escape(embed.src)}" '
            f'title="{embed.provider} video" loading="lazy" referrerpolicy="strict-origin-when-cross-origin" '
            'sandbox="allow-scripts allow-same-origin allow-presentation" allowfullscreen></iframe>'
            f"{caption}</figure>"
        )
    return ""


def render_blocks(blocks) -> str:
    """Sanitised HTML for a body. Stored bodies were cleaned on save; this re-cleans anyway, so a row
    written behind the services' back (a shell, an old import) still renders safely."""
    try:
        cleaned = clean_blocks(blocks)
    except ValidationError:
        cleaned = []
        for block in blocks if isinstance(blocks, list) else []:
            try:
                cleaned.append(_clean_block(block))
            except ValueError:
                continue
    anchors: set = set()
    return "\n".join(_render_block(block, anchors) for block in cleaned)


def _markdown_to_text(text: str) -> str:
    return re.sub(r"\s+", " ", nh3.clean(_markdown.render(text or ""), tags=set())).strip()


def block_text(block: dict) -> str:
    """What a reader reads in one block, as plain text (markdown rendered, tags dropped)."""
    kind = block.get("type")
    if kind in {"paragraph", "quote", "callout"}:
        return html.unescape(_markdown_to_text(block.get("text", "")))
    if kind in {"heading", "code"}:
        return block.get("text", "")
    if kind in {"image", "embed"}:
        return block.get("caption", "") or block.get("alt", "")
    return ""


def blocks_text(blocks) -> str:
    return "\n".join(filter(None, (block_text(b) for b in blocks if isinstance(b, dict))))


def headings_text(blocks) -> str:
    return "\n".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "heading")


def body_text(blocks) -> str:
    """Everything but the headings (search weighs headings above the body)."""
    return "\n".join(
        filter(None, (block_text(b) for b in blocks if isinstance(b, dict) and b.get("type") != "heading"))
    )


def excerpt_from(blocks, limit: int = 280) -> str:
    """The first paragraph's text, cut at a word boundary."""
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "paragraph":
            text = block_text(block)
            if len(text) <= limit:
                return text
            return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return ""


def reading_time_minutes(blocks) -> int:
    """About 275 words a minute, plus 12 s per image; at least a minute."""
    words = len(blocks_text([b for b in blocks if isinstance(b, dict) and b.get("type") != "image"]).split())
    images = sum(1 for b in blocks if isinstance(b, dict) and b.get("type") == "image")
    return max(1, math.ceil(words / WORDS_PER_MINUTE + images * SECONDS_PER_IMAGE / 60))


def blocks_from_markdown(text: str) -> list[dict]:
    """Splits a markdown document into heading, code and paragraph blocks (imported docs).

    Headings become heading blocks (h1 → 2: the page title is the h1), fenced code becomes code
    blocks with their language, and everything between stays markdown in paragraph blocks.
    """
    lines = (text or "").splitlines()
    blocks: list[dict] = []
    pending_start = None

    def flush(until):
        nonlocal pending_start
        if pending_start is not None:
            chunk = "\n".join(lines[pending_start:until]).strip()
            if chunk:
                blocks.append({"type": "paragraph", "text": chunk})
        pending_start = None

    for token in _markdown.parse(text or ""):
        if token.level != 0 or token.map is None:
            continue
        start, end = token.map
        if token.type == "heading_open":
            flush(start)
            inline = lines[start:end]
            heading = re.sub(r"^\s{0,3}#{1,6}\s*|\s+#+\s*$", "", inline[0]).strip() if inline else ""
            if len(inline) == 2 and re.fullmatch(r"\s*[=-]+\s*", inline[1]):  # setext heading
                heading = inline[0].strip()
            level = min(max(int(token.tag[1]), 2), 4)
            if heading:
                blocks.append({"type": "heading", "text": heading[:255], "level": level})
        elif token.type in {"fence", "code_block"}:
            flush(start)
            language = (token.info or "").strip().split(" ")[0] if token.type == "fence" else ""
            blocks.append(
                {
                    "type": "code",
                    "language": language if LANGUAGE_RE.fullmatch(language or "-") else "",
                    "text": token.content.rstrip("\n"),
                }
            )
        elif token.nesting >= 0:
            if pending_start is None:
                pending_start = start
    flush(len(lines))
    return blocks


def blocks_to_markdown(blocks) -> str:
    """The inverse of ``blocks_from_markdown`` for export; other block types keep their meaning."""
    out = []
    for block in blocks:
        kind = block.get("type")
        if kind == "heading":
            out.append("#" * block.get("level", 2) + " " + block.get("text", ""))
        elif kind == "code":
            fence = "````" if "```" in block.get("text", "") else "```"
            out.append(f"{fence}{block.get('language', '')}\n{block.get('text', '')}\n{fence}")
        elif kind == "paragraph":
            out.append(block.get("text", ""))
        elif kind == "quote":
            quoted = "\n".join("> " + line for line in block.get("text", "").splitlines())
            out.append(quoted + (f"\n>\n> — {block['attribution']}" if block.get("attribution") else ""))
        elif kind == "callout":
            out.append(f"> **{block.get('style', 'info').title()}:** " + block.get("text", ""))
        elif kind == "image":
            out.append(f"![{block.get('alt', '')}]({block.get('url', '')})")
        elif kind == "embed":
            out.append(f"<{block.get('url', '')}>")
    return "\n\n".join(out) + "\n"
