"""/docs/ pages: a version's tree in the sidebar, the page, its history, and a version switcher.

What everyone but staff sees is the same for all of them, so it is rendered once and cached (the
"docs" section of ``content.cache``, dropped by every docs change): the versions, each version's tree,
and each page's rendered main column. Staff see unpublished pages (with a preview banner), drafts and
links to the admin, always rendered fresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import mark_safe

from agentwise.access import can
from agentwise.errors import NotFound

from . import blocks, cache, revisions, selectors
from .docs_tree import DocNode, DocTree


@dataclass
class SidebarItem:
    node: DocNode
    current: bool
    open_children: bool  # a nested list follows (the page has children)
    closes: range  # how many nested lists end after this item
    section: str  # a category heading to show before a top-level page, or ""


def _is_staff(user) -> bool:
    return can(user, "content.preview")


def _versions(user, staff: bool) -> list[str]:
    if staff:
        return selectors.documentation_versions(user)
    return cache.cached("docs", "versions", lambda: selectors.documentation_versions(None))


def _tree(version: str, user, staff: bool) -> DocTree:
    if staff:
        return selectors.documentation_tree(version, user)
    return cache.cached("docs", f"tree:{version}", lambda: selectors.documentation_tree(version, None))


def docs_home(request):
    """The newest version's first page (302: which version is newest changes)."""
    staff = _is_staff(request.user)
    for version in _versions(request.user, staff):
        first = _tree(version, request.user, staff).first()
        if first is not None:
            return HttpResponseRedirect(first.url)
    return render(request, "content/docs/empty.html")


def docs_version(request, version: str):
    staff = _is_staff(request.user)
    if version not in _versions(request.user, staff):
        raise NotFound()
    first = _tree(version, request.user, staff).first()
    if first is None:
        raise NotFound()
    return HttpResponseRedirect(first.url)


def docs_page(request, version: str, path: str):
    staff = _is_staff(request.user)
    if version not in _versions(request.user, staff):
        raise NotFound()  # also spares the cache a tree per made-up version
    tree = _tree(version, request.user, staff)
    node = tree.find(path)
    if node is None:
        raise NotFound()
    if staff:
        main = _page_main(request.user, tree, node, staff=True)
    else:
        main = cache.cached("docs", f"page:{node.id}", lambda: _page_main(None, tree, node, staff=False))
    # The main column is our own template's output (bodies come from blocks.render_blocks, sanitised).
    return render(request, "content/docs/page.html", {**main, "main_html": mark_safe(main["main_html"])})


def _page_main(user, tree: DocTree, node: DocNode, *, staff: bool) -> dict:
    """Everything the page shows but the site chrome, as picklable values."""
    page = selectors.documentation_get_visible(user=user, pk=node.id)
    previous, following = tree.neighbours(node)
    history = selectors.documentation_history(page, user)
    context = {
        "page": page,
        "node": node,
        "version": tree.version,
        "body_html": blocks.render_blocks(page.content),
        "toc": _toc(page.content),
        "breadcrumbs": tree.ancestors(node),
        "previous": previous,
        "next": following,
        "sidebar": _sidebar(tree, node),
        "switcher": selectors.documentation_switcher(user, version=tree.version, path=node.path),
        "history": history,
        "staff": staff,
        "preview": staff and not node.public,
        "draft": revisions.draft_revision(page) if staff else None,
        "admin_urls": _admin_urls(page) if staff else {},
    }
    return {
        "title": page.title,
        "version": tree.version,
        "description": blocks.excerpt_from(page.content, limit=160),
        "main_html": render_to_string("content/docs/_main.html", context),
        "noindex": not node.public,
    }


def _sidebar(tree: DocTree, current: DocNode) -> list[SidebarItem]:
    """The tree in reading order, with where each nested list opens and closes, so the template draws
    nested lists without recursing (a tree of any depth renders in one pass)."""
    items, section = [], None
    for index, pk in enumerate(tree.order):
        node = tree.nodes[pk]
        next_depth = tree.nodes[tree.order[index + 1]].depth if index + 1 < len(tree.order) else 0
        heading = ""
        if node.depth == 0:
            if node.category and node.category != section and node.category != node.title:
                heading = node.category
            section = node.category
        items.append(
            SidebarItem(
                node=node,
                current=node.id == current.id,
                open_children=bool(node.child_ids),
                closes=range(0 if node.child_ids else max(node.depth - next_depth, 0)),
                section=heading,
            )
        )
    return items


def _toc(content) -> list[dict]:
    """The page's headings with the anchors ``blocks.render_blocks`` gives them."""
    toc, anchors = [], set()
    for block in content if isinstance(content, list) else []:
        if (
            not isinstance(block, dict)
            or block.get("type") != "heading"
            or not isinstance(block.get("text"), str)
        ):
            continue
        anchor = base = blocks.heading_anchor(block["text"])
        counter = 2
        while anchor in anchors:
            anchor, counter = f"{base}-{counter}", counter + 1
        anchors.add(anchor)
        toc.append({"text": block["text"], "anchor": anchor, "level": block.get("level", 2)})
    return toc


def _admin_urls(page) -> dict:
    """Links into the admin, where it has the pages (the admin is optional to these pages)."""
    urls = {}
    for name in ("change", "history"):
        try:
            urls[name] = reverse(f"admin:content_documentation_{name}", args=[page.pk])
        except NoReverseMatch:
            pass
    return urls
