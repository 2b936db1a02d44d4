"""What a newsletter email looks like: one body per campaign, one personalised message per recipient.

Every message carries a greeting, an HTML and a text part, a signed unsubscribe link that needs no
sign-in, ``List-Unsubscribe`` (https and mailto) with RFC 8058 one-click, and a stable Message-ID per
(campaign, subscriber), so a receiving system that sees the same issue twice can tell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from email.utils import parseaddr
from urllib.parse import quote

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from content.blocks import blocks_to_markdown, render_blocks

from . import tokens

_RELATIVE_LINK = re.compile(r'(\s(?:src|href)=")/(?!/)')
# Placeholders rendered into a campaign's templates once, then replaced per recipient: rendering two
# templates per message would cost more than sending it (benchmarks/newsletter.py).
NAME, UNSUBSCRIBE_URL, PREFERENCES_URL = "AWNL7NAME", "AWNL7UNSUBSCRIBE", "AWNL7PREFERENCES"


@dataclass(frozen=True)
class CampaignBody:
    """Rendered once per sender and campaign; only the greeting and the links differ per recipient."""

    subject: str
    preheader: str
    html: str
    text: str
    web_url: str  # the blog post, when the campaign sends one
    text_shell: str = ""  # the text part with the placeholders, for real sends (not tests)
    html_shell: str = ""


def campaign_body(campaign) -> CampaignBody:
    post = campaign.blog_post
    blocks = list(post.content) if post is not None else list(campaign.content or [])
    if post is not None:
        blocks.insert(0, {"type": "heading", "level": 1, "text": post.title})
    # Mail clients drop iframes: an embed becomes a link to what it shows.
    blocks = [
        {"type": "paragraph", "text": f"[{block.get('url', '')}]({block.get('url', '')})"}
        if block.get("type") == "embed"
        else block
        for block in blocks
        if isinstance(block, dict)
    ]
    html = _RELATIVE_LINK.sub(rf"\1{settings.SITE_URL}/", render_blocks(blocks))
    body = CampaignBody(
        subject=campaign.subject,
        preheader=campaign.preheader or (post.excerpt if post is not None else ""),
        html=html,
        text=blocks_to_markdown(blocks).strip(),
        web_url=f"{settings.SITE_URL}{post.get_absolute_url()}" if post is not None else "",
    )
    text_shell, html_shell = _render(
        body, name=NAME, unsubscribe_url=UNSUBSCRIBE_URL, preferences_url=PREFERENCES_URL, test=False
    )
    return replace(body, text_shell=text_shell, html_shell=html_shell)


def _render(
    body: CampaignBody, *, name: str, unsubscribe_url: str, preferences_url: str, test: bool
) -> tuple[str, str]:
    context = {
        "body": body,
        "name": name,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "site_url": settings.SITE_URL,
        "test": test,
    }
    return (
        render_to_string("content/newsletter/email/campaign.txt", context),
        render_to_string("content/newsletter/email/campaign.html", context),
    )


def _fill(shell: str, *, name: str, unsubscribe_url: str, preferences_url: str, html: bool) -> str:
    quote_ = escape if html else str
    return (
        shell.replace(NAME, quote_(name or "there"))
        .replace(UNSUBSCRIBE_URL, quote_(unsubscribe_url))
        .replace(PREFERENCES_URL, quote_(preferences_url))
    )


def manage_urls(*, subscriber_id: int, campaign_id: int | None) -> tuple[str, str]:
    """The unsubscribe and preferences pages of one subscriber (from one campaign)."""
    token = tokens.manage_token(subscriber_id=subscriber_id, campaign_id=campaign_id)
    return (
        settings.SITE_URL + reverse("newsletter_unsubscribe", args=[token]),
        settings.SITE_URL + reverse("newsletter_preferences", args=[token]),
    )


def unsubscribe_mailto(token_url: str) -> str:
    address = settings.NEWSLETTER_UNSUBSCRIBE_MAILTO
    if not address:
        sender = parseaddr(settings.NEWSLETTER_FROM_EMAIL)[1]
        address = f"unsubscribe@{sender.rpartition('@')[2] or 'localhost'}"
    token = token_url.rstrip("/").rpartition("/")[2]
    return f"mailto:{address}?subject={quote('unsubscribe ' + token)}"


def greeting_name(subscriber) -> str:
    user = getattr(subscriber, "user", None)
    if user is None:
        return ""
    profile = getattr(user, "profile", None)
    return (profile.full_name if profile is not None and profile.full_name else user.username).strip()


def message_id_domain() -> str:
    return parseaddr(settings.NEWSLETTER_FROM_EMAIL)[1].rpartition("@")[2] or "agentwise.localhost"


def compose(
    body: CampaignBody,
    *,
    campaign_id: int,
    email: str,
    name: str,
    subscriber_id: int | None,
    delivery_id: int | None = None,
    test: bool = False,
) -> EmailMultiAlternatives:
    """One recipient's message. ``subscriber_id`` None (a test to staff who are not subscribed): the
    links point at the newsletter page instead of a subscription."""
    if subscriber_id is not None:
        unsubscribe_url, preferences_url = manage_urls(subscriber_id=subscriber_id, campaign_id=campaign_id)
    else:
        unsubscribe_url = preferences_url = settings.SITE_URL + reverse("newsletter_subscribe_page")
    if test or not body.text_shell:
        text, html = _render(
            body, name=name, unsubscribe_url=unsubscribe_url, preferences_url=preferences_url, test=test
        )
    else:
        links = {"name": name, "unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url}
        text, html = _fill(body.text_shell, html=False, **links), _fill(body.html_shell, html=True, **links)
    message = EmailMultiAlternatives(
        subject=("[Test] " if test else "") + body.subject,
        body=text,
        from_email=settings.NEWSLETTER_FROM_EMAIL,
        to=[email],
        headers=_headers(unsubscribe_url, campaign_id=campaign_id, subscriber_id=subscriber_id, test=test),
    )
    message.attach_alternative(html, "text/html")
    # anymail: a tag for the ESP's dashboards, and metadata its tracking webhooks hand back to us.
    message.tags = ["newsletter"]
    message.metadata = {"campaign_id": str(campaign_id), "delivery_id": str(delivery_id or "")}
    return message


def _headers(unsubscribe_url: str, *, campaign_id: int, subscriber_id: int | None, test: bool) -> dict:
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <{unsubscribe_mailto(unsubscribe_url)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"Agentwise newsletter <newsletter.{message_id_domain()}>",
    }
    if subscriber_id is not None and not test:
        headers["Message-ID"] = f"<newsletter.{campaign_id}.{subscriber_id}@{message_id_domain()}>"
    return headers
