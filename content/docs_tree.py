"""A docs version as a tree, built in memory from one query's rows (``selectors.documentation_tree``).

Kept flat — nodes refer to each other by id — so a whole tree pickles cheaply into the cache and never
recurses, however deep the pages nest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DocNode:
    """One page: enough for the sidebar, breadcrumbs, previous/next links and its URL."""

    id: Any
    slug: str
    title: str
    category: str
    position: int
    is_published: bool
    parent_id: Any
    path: str = ""  # "guides/install": the slugs from the top
    url: str = ""
    depth: int = 0
    public: bool = True  # published, and so is every page above it
    child_ids: list = field(default_factory=list)


@dataclass
class DocTree:
    """``order`` is depth-first (siblings by position, then title): the reading order."""

    version: str
    nodes: dict
    order: list
    by_path: dict

    def first(self) -> DocNode | None:
        return self.nodes[self.order[0]] if self.order else None

    def find(self, path: str) -> DocNode | None:
        pk = self.by_path.get(path.strip("/"))
        return None if pk is None else self.nodes[pk]

    def ancestors(self, node: DocNode) -> list[DocNode]:
        """From the top down to ``node``'s parent."""
        chain = []
        while node.parent_id is not None and node.parent_id in self.nodes:
            node = self.nodes[node.parent_id]
            chain.append(node)
        return chain[::-1]

    def neighbours(self, node: DocNode) -> tuple[DocNode | None, DocNode | None]:
        """The pages before and after ``node`` in reading order."""
        index = self.order.index(node.id) if node.id in self.nodes else None
        if index is None:
            return None, None
        before = self.nodes[self.order[index - 1]] if index > 0 else None
        after = self.nodes[self.order[index + 1]] if index + 1 < len(self.order) else None
        return before, after

    def __len__(self) -> int:
        return len(self.order)


def _sibling_key(node: DocNode):
    return (node.position, node.title.casefold(), node.slug)


def tree_build(version: str, nodes: list[DocNode], *, public_only: bool) -> DocTree:
    """Links parents and children, computes paths, and drops what the reader may not see: a page under
    an unpublished page is not public either. Pages caught in a cycle are unreachable, so left out; a
    page whose parent is missing from the version sits at the top (as ``documentation_paths`` has it)."""
    by_id = {node.id: node for node in nodes}
    children: dict = {}
    roots = []
    for node in nodes:
        if node.parent_id is None or node.parent_id not in by_id:
            roots.append(node)
        else:
            children.setdefault(node.parent_id, []).append(node)
    order, by_path, kept = [], {}, {}
    stack = [(root, None) for root in sorted(roots, key=_sibling_key, reverse=True)]
    while stack:
        node, parent = stack.pop()
        node.public = node.is_published and (parent is None or parent.public)
        if public_only and not node.public:
            continue
        node.depth = 0 if parent is None else parent.depth + 1
        node.path = node.slug if parent is None else f"{parent.path}/{node.slug}"
        node.url = f"/docs/{version}/{node.path}/"
        node.child_ids = []
        if parent is not None:
            parent.child_ids.append(node.id)
        kept[node.id] = node
        order.append(node.id)
        by_path.setdefault(node.path, node.id)
        stack.extend(
            (child, node) for child in sorted(children.get(node.id, ()), key=_sibling_key, reverse=True)
        )
    return DocTree(version=version, nodes=kept, order=order, by_path=by_path)


def versions_sorted(names) -> list[str]:
    """``latest`` first, then the newest number first (2.0, 1.10, 1.2), as ``documentation_versions``."""

    def key(name: str):
        parts = []
        for piece in name.replace("-", ".").split("."):
            parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
        return parts

    names = set(names)
    numbered = sorted((n for n in names if n != "latest"), key=key, reverse=True)
    return (["latest"] if "latest" in names else []) + numbered


def path_exists(pages: dict, slugs: list[str]) -> bool:
    """Whether ``{pk: (slug, parent_id)}`` holds a page at the slug path ``slugs`` from the top."""
    for slug, parent_id in pages.values():
        if slug != slugs[-1]:
            continue
        depth, current = len(slugs) - 1, parent_id
        while depth > 0 and current in pages and pages[current][0] == slugs[depth - 1]:
            depth, current = depth - 1, pages[current][1]
        if depth == 0 and current is None:
            return True
    return False
