"""/docs/ pages (mounted at /docs/)."""

from django.urls import include, path, re_path

from content import docs_views

VERSION = r"(?P<version>[A-Za-z0-9][A-Za-z0-9._-]{0,49})"

urlpatterns: list = [
    path("search/", include("content.urls.search")),
    path("", docs_views.docs_home, name="docs_home"),
    re_path(rf"^{VERSION}/$", docs_views.docs_version, name="docs_version"),
    re_path(rf"^{VERSION}/(?P<path>(?:[-\w]{{1,255}}/){{1,50}})$", docs_views.docs_page, name="docs_page"),
]
