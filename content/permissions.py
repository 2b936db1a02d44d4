"""Who may do what with the blog and the docs.

Everyone (signed in or not) reads what is published and live; staff write, publish, schedule,
preview drafts, read the history and restore revisions, and run the newsletter. A staff user's API key may publish docs from
CI. Asked through ``agentwise.access.can`` / ``require`` (``"content.<verb>_<model>"``).
"""

from __future__ import annotations

import rules
from django.utils import timezone

from agentwise.access import add_rules

from .models import BlogPost, Documentation, PublicationStatus


@rules.predicate
def is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def post_is_public(post: BlogPost) -> bool:
    return (
        post.status == PublicationStatus.PUBLISHED
        and post.published_at is not None
        and post.published_at <= timezone.now()
    )


def page_is_public(page: Documentation) -> bool:
    return page.is_published


@rules.predicate
def is_public_post(user, post) -> bool:
    return post is not None and post_is_public(post)


@rules.predicate
def is_public_page(user, page) -> bool:
    return page is not None and page_is_public(page)


add_rules(
    {
        "content.view_blogpost": is_public_post | is_staff,
        "content.add_blogpost": is_staff,
        "content.change_blogpost": is_staff,
        "content.delete_blogpost": is_staff,
        "content.view_revisions": is_staff,
        "content.view_documentation": is_public_page | is_staff,
        "content.add_documentation": is_staff,
        "content.change_documentation": is_staff,
        "content.delete_documentation": is_staff,
        # Drafts, scheduled posts and unpublished pages, shown before they are public.
        "content.preview": is_staff,
        # The newsletter: staff write, test, send, schedule, cancel and resume campaigns, and manage
        # subscribers. Subscribers manage themselves through signed links (newsletter.tokens).
        "content.manage_campaign": is_staff,
        "content.manage_subscribers": is_staff,
    }
)
