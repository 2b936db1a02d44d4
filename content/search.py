"""Docs full-text search: the index kept on save, and the query (PostgreSQL full text; SQLite fallback)."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.db.models import Value

from . import blocks
from .models import Documentation

SEARCH_CONFIG = "english"


def search_content_for(page: Documentation) -> str:
    """Title, then headings, then body: what the SQLite fallback searches and snippets come from."""
    return "\n".join(
        filter(None, [page.title, blocks.headings_text(page.content), blocks.body_text(page.content)])
    )


def documentation_index(page: Documentation) -> None:
    """Brings ``search_content`` (and on PostgreSQL the weighted, GIN-indexed vector) up to date."""
    page.search_content = search_content_for(page)
    updates = {"search_content": page.search_content}
    if connection.vendor == "postgresql":
        updates["search_vector"] = (
            SearchVector(Value(page.title), weight="A", config=SEARCH_CONFIG)
            + SearchVector(Value(blocks.headings_text(page.content)), weight="B", config=SEARCH_CONFIG)
            + SearchVector(Value(blocks.body_text(page.content)), weight="C", config=SEARCH_CONFIG)
        )
    Documentation.objects.filter(pk=page.pk).update(**updates)
