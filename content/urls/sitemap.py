"""/sitemap.xml and its sections (mounted at the site's root)."""

from django.urls import path

from content import sitemaps

urlpatterns: list = [
    path("sitemap.xml", sitemaps.sitemap_index, name="sitemap"),
    path("sitemap-<slug:section>.xml", sitemaps.sitemap_section, name="sitemap_section"),
]
