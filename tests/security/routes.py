"""Every page of the site, from the URL conf: routes without parameters as they are, routes with
parameters filled from a populated ``World``, and every admin changelist, add and change page."""

from __future__ import annotations

import re

from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from content.newsletter import tokens

# Not pages: the API (tests/agentwise/test_api_*), provider webhooks, uploads, the admin (walked from its registry).
NOT_PAGES = ("api/", "admin/", "anymail/", "stripe/", "media/")
_PARAMETER = re.compile(r"<[^>]+>|\(\?P<|\(")


def _walk(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern).removeprefix("^").removesuffix("$")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def parameterless_pages() -> list[str]:
    """Every route with no parameter outside the NOT_PAGES prefixes, as a path."""
    paths = []
    for route, _pattern in _walk(get_resolver()):
        if route.startswith(NOT_PAGES) or _PARAMETER.search(route):
            continue
        path = "/" + route.replace("\\", "")
        if path not in paths:
            paths.append(path)
    return paths


def parametrised_pages(world) -> list[str]:
    """The pages whose routes take parameters, for the objects in ``world``."""
    topic = world.topic
    subscriber_id = _subscriber_id(world.reader)
    return [
        reverse("profile_detail", args=[world.author.username]),
        reverse("project_detail", args=[world.project.pk]),
        reverse("project_settings", args=[world.project.pk]),
        reverse("forum_channel", args=[world.forum.pk]),
        reverse("forum_topic_create", args=[world.forum.pk]),
        topic.get_absolute_url(),
        reverse("forum_topic_short", args=[topic.pk]),
        reverse("blog_post", args=[world.post.slug]),
        reverse("blog_tag", args=["agents"]),
        reverse("docs_version", args=[world.page.version]),
        reverse("docs_page", args=[world.page.version, f"{world.page.slug}/"]),
        reverse("newsletter_confirm", args=[tokens.confirm_token(subscriber_id=subscriber_id, email=world.reader.email)]),
        reverse("newsletter_unsubscribe", args=[tokens.manage_token(subscriber_id=subscriber_id)]),
        reverse("newsletter_preferences", args=[tokens.manage_token(subscriber_id=subscriber_id)]),
        reverse("sitemap"),
    ]


def _subscriber_id(user) -> int:
    from content.models import Subscriber

    subscriber, _ = Subscriber.objects.get_or_create(email=user.email, defaults={"user": user})
    return subscriber.pk


def admin_pages() -> list[str]:
    """The admin index, and every registered model's changelist, add page and first object's change page."""
    paths = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    return paths
