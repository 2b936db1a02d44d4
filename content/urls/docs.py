"""/docs/ pages (mounted at /docs/)."""

from django.urls import include, path

from agentwise.views import section_placeholder

urlpatterns: list = [
    path("search/", include("content.urls.search")),
    path(
        "",
        section_placeholder,
        {"section": "Docs", "blurb": "Guides for the Agentwise CLI and API."},
        name="docs_home",
    ),
]
