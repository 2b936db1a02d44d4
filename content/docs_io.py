"""Docs as a folder of markdown files: ``import_docs`` reads one into a version's tree, ``export_docs``
writes a version back, and each reads what the other writes (export, then import, changes nothing).

A file is front matter, then markdown::

    ---
    title: Install the CLI
    position: 10
    category: Getting started
    slug: install            # optional: the file name's slug otherwise
    published: false         # optional: true otherwise
    ---
    # Install the CLI        (a leading h1 equal to the title is dropped: the page shows the title)

Folders are parents: ``guides/index.md`` is the page "guides", ``guides/install.md`` its child. A
folder without an ``index.md`` still becomes a page (titled after the folder, with no body).

The body becomes blocks through ``content.blocks.blocks_from_markdown`` (headings, code, paragraphs),
plus what plain markdown also says: a quote starting ``**Tip:**`` (Info, Note, Tip, Warning, Danger)
is a callout, other quotes are quote blocks, a paragraph that is only an image is an image block (its
title the caption) and one that is only a link to an allowed video provider is an embed. A line
``<!-- -->`` separates two paragraph blocks.

Every write goes through the services (so each change keeps a revision, updates the search index and
drops cached pages), and only what differs is written: a second import makes no revisions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from markdown_it import MarkdownIt

from . import blocks, selectors, services
from .docs_tree import DocNode, tree_build
from .models import Documentation

FRONT_MATTER_KEYS = ("title", "slug", "position", "category", "published")
CALLOUT_LABELS = {"info": "info", "note": "info", "tip": "tip", "warning": "warning", "danger": "danger"}
CALLOUT_RE = re.compile(r"^\*\*(Info|Note|Tip|Warning|Danger):\*\*[ \t]*", re.IGNORECASE)
ATTRIBUTION_RE = re.compile(r"^(?:—|--)\s*(.+)$")
SEPARATOR = "<!-- -->"
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 20

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
# Image and embed URLs are kept as written (not percent-encoded), so an export reads back unchanged;
# rendering sanitises them anyway.
_markdown.normalizeLink = lambda url: url


class DocsFileError(Exception):
    """A file that cannot become a page; the message names it."""


# --- front matter --------------------------------------------------------------------------------


def front_matter_parse(text: str) -> tuple[dict, str]:
    """``(meta, body)``. A small, safe subset of YAML: ``key: value`` lines, values plain, in double
    quotes (JSON escapes) or single quotes; ``position`` an integer, ``published`` true or false."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in {"---", "..."})
    except StopIteration:
        raise ValueError("front matter opened with --- is never closed") from None
    meta: dict = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, raw = line.partition(":")
        key = key.strip()
        if not sep or key not in FRONT_MATTER_KEYS:
            raise ValueError(f"line {number}: expected one of {', '.join(FRONT_MATTER_KEYS)} as “key: value”")
        if key in meta:
            raise ValueError(f"line {number}: “{key}” is given twice")
        meta[key] = _front_matter_value(key, raw.strip(), number)
    return meta, "\n".join(lines[end + 1 :])


def _front_matter_value(key: str, raw: str, number: int):
    if raw.startswith('"'):
        try:
            value, end = json.JSONDecoder().raw_decode(raw)
        except ValueError:
            value, end = None, 0
        if not isinstance(value, str) or not re.fullmatch(r"\s*(#.*)?", raw[end:]):
            raise ValueError(f"line {number}: a double-quoted value must be one JSON string")
    elif raw.startswith("'"):
        match = re.fullmatch(r"'((?:[^']|'')*)'\s*(?:#.*)?", raw)
        if match is None:
            raise ValueError(f"line {number}: a single-quoted value must end with a quote")
        value = match.group(1).replace("''", "'")
    else:
        value = re.sub(r"(^|\s+)#.*$", "", raw)  # a trailing comment
    if key == "position":
        if not re.fullmatch(r"[-+]?\d{1,10}", value.strip()):
            raise ValueError(f"line {number}: position must be a whole number")
        return int(value)
    if key == "published":
        if value.strip().lower() not in {"true", "false", "yes", "no"}:
            raise ValueError(f"line {number}: published must be true or false")
        return value.strip().lower() in {"true", "yes"}
    return value


def _front_matter_text(value: str) -> str:
    """A string exactly as ``front_matter_parse`` reads it back (quoted when it has to be)."""
    plain = (
        value
        and value == value.strip()
        and value[0] not in "\"'#[]{}>|*&!%@`,"
        and ": " not in value
        and " #" not in value
        and value.lower() not in {"true", "false", "yes", "no", "null", "~"}
        and not re.fullmatch(r"[-+]?\d+(\.\d*)?", value)
        and "\n" not in value
    )
    return value if plain else json.dumps(value, ensure_ascii=False)


def front_matter_dump(meta: dict) -> str:
    lines = ["---"]
    for key in FRONT_MATTER_KEYS:
        if key not in meta:
            continue
        value = meta[key]
        if isinstance(value, bool):
            lines.append(f"{key}: {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key}: {value}")
        else:
            lines.append(f"{key}: {_front_matter_text(value)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


# --- markdown <-> blocks -------------------------------------------------------------------------


def _inline_text(token) -> str:
    return "".join(child.content for child in token.children or [] if child.type in {"text", "code_inline"})


def _usable(block: dict) -> dict | None:
    try:
        return blocks.clean_blocks([block])[0]
    except ValidationError:
        return None


def _dequote(lines: list[str]) -> str:
    return "\n".join(re.sub(r"^\s{0,3}> ?", "", line) for line in lines).strip()


def _quote_block(source: list[str]) -> dict | None:
    text = _dequote(source)
    match = CALLOUT_RE.match(text)
    if match:
        style = CALLOUT_LABELS[match.group(1).lower()]
        return _usable({"type": "callout", "style": style, "text": text[match.end() :].strip()})
    paragraphs = re.split(r"\n[ \t]*\n", text)
    attribution = ATTRIBUTION_RE.match(paragraphs[-1].strip()) if len(paragraphs) > 1 else None
    if attribution and "\n" not in paragraphs[-1].strip():
        return _usable(
            {
                "type": "quote",
                "text": "\n\n".join(paragraphs[:-1]).strip(),
                "attribution": attribution.group(1),
            }
        )
    return _usable({"type": "quote", "text": text, "attribution": ""})


def _paragraph_block(inline) -> dict | None:
    """An image or embed when the paragraph is nothing else; None for ordinary prose."""
    children = [c for c in inline.children or [] if not (c.type == "text" and not c.content.strip())]
    if len(children) == 1 and children[0].type == "image":
        image = children[0]
        return _usable(
            {
                "type": "image",
                "url": image.attrs.get("src", ""),
                "alt": _inline_text(image),
                "caption": image.attrs.get("title") or "",
            }
        )
    if len(children) >= 3 and children[0].type == "link_open" and children[-1].type == "link_close":
        url = str(children[0].attrs.get("href", ""))
        if blocks.embed_for(url) is None or any(c.type == "link_open" for c in children[1:-1]):
            return None
        caption = "".join(c.content for c in children[1:-1])
        return _usable({"type": "embed", "url": url, "caption": "" if caption == url else caption})
    return None


def markdown_to_blocks(text: str, *, title: str | None = None) -> tuple[str | None, list[dict]]:
    """``(title, blocks)`` for a page body. A leading h1 is dropped when it equals ``title``, and is
    the title when there is none."""
    lines = text.splitlines()
    tokens = _markdown.parse(text)
    start = 0
    top = [i for i, token in enumerate(tokens) if token.level == 0 and token.nesting >= 0 and token.map]
    if top and tokens[top[0]].type == "heading_open" and tokens[top[0]].tag == "h1":
        heading = tokens[top[0] + 1].content.strip()
        if title is None or heading == title.strip():
            title, start = heading, tokens[top[0]].map[1]

    result: list[dict] = []

    def plain(until: int) -> None:
        segment = "\n".join(lines[start:until])
        if segment.strip():
            result.extend(blocks.blocks_from_markdown(segment))

    for index in top:
        token = tokens[index]
        first, last = token.map
        if first < start:
            continue
        special = None
        if token.type == "blockquote_open":
            special = _quote_block(lines[first:last])
        elif token.type == "paragraph_open":
            if "\n".join(lines[first:last]).strip() == SEPARATOR:
                plain(first)
                start = last
                continue
            special = _paragraph_block(tokens[index + 1])
        if special is not None:
            plain(first)
            result.append(special)
            start = last
    plain(len(lines))
    return title, result


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _escape_brackets(text: str) -> str:
    return re.sub(r"([\[\]\\])", r"\\\1", text)


def _link_target(url: str) -> str:
    return f"<{url}>" if re.search(r"[\s()<>]", url) else url


def blocks_to_markdown(body: list[dict]) -> str:
    """Markdown that ``markdown_to_blocks`` reads back into the same blocks."""
    out: list[str] = []
    previous = None
    for block in body:
        kind = block.get("type")
        if kind == "paragraph" and previous == "paragraph":
            out.append(SEPARATOR)
        if kind == "heading":
            out.append("#" * block.get("level", 2) + " " + block.get("text", ""))
        elif kind == "code":
            fence = _fence(block.get("text", ""))
            out.append(f"{fence}{block.get('language', '')}\n{block.get('text', '')}\n{fence}")
        elif kind == "paragraph":
            out.append(block.get("text", ""))
        elif kind == "quote":
            quoted = "\n".join(("> " + line).rstrip() for line in block.get("text", "").splitlines())
            out.append(quoted + (f"\n>\n> — {block['attribution']}" if block.get("attribution") else ""))
        elif kind == "callout":
            text = f"**{block.get('style', 'info').title()}:** " + block.get("text", "")
            out.append("\n".join(("> " + line).rstrip() for line in text.splitlines()))
        elif kind == "image":
            caption = block.get("caption", "")
            title = (
                f' "{caption.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                if caption
                else ""
            )
            out.append(
                f"![{_escape_brackets(block.get('alt', ''))}]({_link_target(block.get('url', ''))}{title})"
            )
        elif kind == "embed":
            caption = block.get("caption", "")
            url = block.get("url", "")
            out.append(f"[{_escape_brackets(caption)}]({_link_target(url)})" if caption else f"<{url}>")
        else:
            continue
        previous = kind
    return "\n\n".join(out) + "\n"


def page_to_markdown(page: Documentation, *, slug_from_name: bool = True) -> str:
    meta: dict = {"title": page.title}
    if not slug_from_name:
        meta["slug"] = page.slug
    meta["position"] = page.position
    if page.category:
        meta["category"] = page.category
    if not page.is_published:
        meta["published"] = False
    heading = f"# {page.title}\n\n" if _reads_back_as_h1(page.title) else ""
    return f"{front_matter_dump(meta)}\n{heading}{blocks_to_markdown(page.content)}"


def _reads_back_as_h1(title: str) -> bool:
    """Whether ``# <title>`` parses as an h1 of exactly that text (``Notes #`` would lose its ``#``)."""
    tokens = _markdown.parse(f"# {title}")
    return len(tokens) == 3 and tokens[0].tag == "h1" and tokens[1].content.strip() == title.strip()


# --- reading a folder ----------------------------------------------------------------------------


@dataclass
class SourcePage:
    source: str  # the file (or folder) it came from, relative to the folder imported
    path: tuple  # the slugs from the top
    fields: dict  # title, slug, content, category, position, is_published


def _read_page(file: Path | None, source: str, *, fallback_title: str, default_slug: str) -> dict:
    meta, body = {}, ""
    if file is not None:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise DocsFileError(f"{source}: larger than {MAX_FILE_BYTES // 1000} kB")
        try:
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise DocsFileError(f"{source}: not UTF-8 text") from None
        try:
            meta, body = front_matter_parse(text.replace("\r\n", "\n"))
        except ValueError as error:
            raise DocsFileError(f"{source}: front matter: {error}") from None
    title, content = markdown_to_blocks(body, title=meta.get("title"))
    slug = meta.get("slug") or default_slug
    if not slug or slug != slugify(slug):
        raise DocsFileError(f"{source}: “{slug}” is not a usable slug (lower-case letters, digits, hyphens)")
    try:
        content = blocks.clean_blocks(content)
    except ValidationError as error:
        raise DocsFileError(f"{source}: {' '.join(error.messages)}") from None
    return {
        "title": (title or fallback_title).strip(),
        "slug": slug,
        "content": content,
        "category": meta.get("category", "").strip()[:100],
        "position": meta.get("position", 0),
        "is_published": meta.get("published", True),
    }


def _humanize(name: str) -> str:
    return re.sub(r"[-_]+", " ", name).strip().capitalize() or name


def folder_read(folder: Path) -> list[SourcePage]:
    """Every page in ``folder``, parents before their children."""
    pages: list[SourcePage] = []

    def walk(directory: Path, parent: tuple) -> None:
        if len(parent) > MAX_DEPTH:
            raise DocsFileError(
                f"{directory.relative_to(folder).as_posix()}: nested deeper than {MAX_DEPTH} folders"
            )
        entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
        seen: dict = {}
        for entry in entries:
            relative = entry.relative_to(folder).as_posix()
            if entry.is_dir():
                index = entry / "index.md"
                fields = _read_page(
                    index if index.is_file() else None,
                    f"{relative}/index.md" if index.is_file() else f"{relative}/",
                    fallback_title=_humanize(entry.name),
                    default_slug=slugify(entry.name),
                )
            elif entry.suffix.lower() == ".md" and not (parent and entry.name == "index.md"):
                fields = _read_page(
                    entry, relative, fallback_title=_humanize(entry.stem), default_slug=slugify(entry.stem)
                )
            else:
                continue
            if fields["slug"] in seen:
                raise DocsFileError(
                    f"{relative} and {seen[fields['slug']]} are both the page “{fields['slug']}”"
                )
            seen[fields["slug"]] = relative
            pages.append(SourcePage(source=relative, path=(*parent, fields["slug"]), fields=fields))
            if entry.is_dir():
                walk(entry, (*parent, fields["slug"]))

    walk(folder, ())
    return pages


# --- import and export ---------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    not_in_folder: list = field(default_factory=list)  # pages of the version no file names (left as they are)


COMPARED = ("title", "content", "category", "position", "is_published")


def documentation_import(*, actor, folder, version: str, progress=None) -> ImportResult:
    """Brings ``version`` in line with the markdown in ``folder``, all or nothing. Pages are matched by
    their place (parent and slug); a page no file names is left alone (and reported).

    ``progress(total)``, if given, returns a bar to ``update(1)`` per page (and ``close()``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DocsFileError(f"{folder}: not a folder")
    if not services.VERSION_RE.fullmatch(version or ""):
        raise DocsFileError(
            f"“{version}” is not a version name (letters, digits, dots, hyphens: 1.0, latest)"
        )
    sources = folder_read(folder)
    result = ImportResult()
    bar = progress(len(sources)) if progress is not None else None
    try:
        _import_sources(actor, sources, version, result, bar)
    finally:
        if bar is not None:
            bar.close()
    return result


def _import_sources(actor, sources: list[SourcePage], version: str, result: ImportResult, bar) -> None:
    with transaction.atomic():
        existing = {
            (page.parent_id, page.slug): page for page in selectors.documentation_version_pages(version)
        }
        placed: dict = {(): None}  # slug path -> the page now at it
        for source in sources:
            parent = placed[source.path[:-1]]
            page = existing.pop((parent.pk if parent else None, source.fields["slug"]), None)
            try:
                if page is None:
                    page = services.documentation_create(
                        actor=actor,
                        fields={**source.fields, "version": version, "parent": parent},
                        change_summary=f"Imported from {source.source}",
                    )
                    result.created.append(source.source)
                else:
                    changed = {
                        name: source.fields[name]
                        for name in COMPARED
                        if getattr(page, name) != source.fields[name]
                    }
                    if changed:
                        page = services.documentation_update(
                            actor=actor,
                            page=page,
                            fields=changed,
                            change_summary=f"Imported from {source.source}",
                        )
                        result.updated.append(source.source)
                    else:
                        result.unchanged.append(source.source)
            except ValidationError as error:
                messages = "; ".join(
                    f"{name}: {' '.join(errors)}"
                    for name, errors in getattr(error, "message_dict", {"": error.messages}).items()
                )
                raise DocsFileError(f"{source.source}: {messages}") from None
            placed[source.path] = page
            if bar is not None:
                bar.update(1)
        result.not_in_folder = sorted(page.title for page in existing.values())


def documentation_export(*, folder, version: str) -> list[str]:
    """Writes ``version`` (live content; unpublished pages too, marked ``published: false``) into
    ``folder`` as markdown files; returns the files written, relative to it."""
    folder = Path(folder)
    pages = {page.pk: page for page in selectors.documentation_version_pages(version)}
    nodes = [
        DocNode(
            id=p.pk,
            slug=p.slug,
            title=p.title,
            category=p.category,
            position=p.position,
            is_published=p.is_published,
            parent_id=p.parent_id,
        )
        for p in pages.values()
    ]
    tree = tree_build(version, nodes, public_only=False)
    written = []
    for pk in tree.order:
        node = tree.nodes[pk]
        parts = node.path.split("/")
        if node.child_ids:
            relative, from_name = Path(*parts, "index.md"), True
        elif node.depth > 0 and node.slug == "index":
            relative, from_name = (
                Path(*parts[:-1], "index-page.md"),
                False,
            )  # index.md is the folder's own page
        else:
            relative, from_name = Path(*parts[:-1], f"{node.slug}.md"), True
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page_to_markdown(pages[pk], slug_from_name=from_name), encoding="utf-8")
        written.append(relative.as_posix())
    return written
