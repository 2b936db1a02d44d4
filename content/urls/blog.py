"""/blog/ pages (mounted at /blog/)."""

from django.urls import path

from content import blog_views

urlpatterns: list = [
    path("", blog_views.blog_list, name="blog_home"),
    path("feed/", blog_views.blog_feed, name="blog_feed"),
    path("tag/<slug:tag>/", blog_views.blog_list, name="blog_tag"),
    path("<slug:slug>/", blog_views.blog_post, name="blog_post"),
]
