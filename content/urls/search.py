"""/docs/search/ (mounted at /docs/search/, before the docs pages' catch-all path)."""

from django.urls import path

from content.search_views import docs_search

urlpatterns: list = [
    path("", docs_search, name="docs_search"),
]
