"""/blog/ pages (mounted at /blog/)."""

from django.urls import path

from agentwise.views import section_placeholder

urlpatterns: list = [
    path(
        "",
        section_placeholder,
        {"section": "Blog", "blurb": "Field notes on running AI coding agents well."},
        name="blog_home",
    ),
]
