"""The email provider's webhooks (anymail), and what they do to the newsletter.

``/anymail/<esp>/tracking/``: bounces and complaints mark the delivery and the subscriber, who is never
mailed again; an unsubscribe done at the provider unsubscribes here too. ``/anymail/<esp>/inbound/``:
the ``mailto:`` half of List-Unsubscribe. anymail checks each ESP's signature (or basic auth) before
any of this runs; an ESP with no secret configured answers 404, since an unauthenticated bounce
webhook would let anyone unsubscribe anyone.
"""

from __future__ import annotations

import logging
import re
import warnings

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt

from agentwise.errors import NotFound

from . import services, tokens

logger = logging.getLogger(__name__)

_UNSUBSCRIBE_SUBJECT = re.compile(r"unsubscribe\s+(\S+)", re.IGNORECASE)


def on_tracking(sender, event, esp_name, **kwargs) -> None:
    kind = event.event_type
    if kind not in ("bounced", "complained", "rejected", "unsubscribed"):
        return
    delivery_id = _delivery_id(event)
    if kind == "unsubscribed":
        subscriber = services.Subscriber.objects.filter(email=(event.recipient or "").strip().lower()).first()
        if subscriber is not None:
            services.subscriber_unsubscribe(subscriber_id=subscriber.pk)
        return
    if kind == "rejected" and event.reject_reason not in ("bounced", "invalid", "spam"):
        return  # e.g. the provider's own policy or a temporary block: not the address's fault
    marked = services.subscriber_mark_undeliverable(
        email=event.recipient or "", delivery_id=delivery_id, complained=kind == "complained"
    )
    logger.info(
        "Newsletter %s from %s for delivery %s: subscriber %s.",
        kind,
        esp_name,
        delivery_id,
        marked and marked.pk,
    )


def on_inbound(sender, event, esp_name, **kwargs) -> None:
    """A reply to the List-Unsubscribe mailto: its subject carries the signed token."""
    subject = (event.message.subject or "") if event.message is not None else ""
    match = _UNSUBSCRIBE_SUBJECT.search(subject)
    if not match:
        return
    try:
        claim = tokens.read_manage_token(match.group(1))
        services.subscriber_unsubscribe(subscriber_id=claim.subscriber_id, campaign_id=claim.campaign_id)
    except NotFound:
        logger.info("Unsubscribe email from %s with an invalid token ignored.", esp_name)


def _delivery_id(event) -> int | None:
    """Our metadata when the ESP hands it back; else the provider's message id we stored at send time."""
    from content.models import Delivery

    raw = (event.metadata or {}).get("delivery_id")
    if raw not in (None, ""):
        try:
            return int(raw)
        except (TypeError, ValueError):
            pass
    if event.message_id:
        return (
            Delivery.objects.filter(provider_message_id=str(event.message_id)[:255])
            .values_list("pk", flat=True)
            .first()
        )
    return None


def connect() -> None:
    from anymail.signals import inbound, tracking

    tracking.connect(on_tracking, dispatch_uid="newsletter.tracking")
    inbound.connect(on_inbound, dispatch_uid="newsletter.inbound")


def webhook_urlpatterns() -> list[URLPattern]:
    """anymail's own routes, each answering 404 until its ESP's secret is configured."""
    from anymail import urls as anymail_urls

    return [
        URLPattern(pattern.pattern, _guard(pattern.callback), name=pattern.name)
        for pattern in anymail_urls.urlpatterns
    ]


def _guard(view):
    view_class = getattr(view, "view_class", None)

    @csrf_exempt
    def guarded(request, *args, **kwargs):
        if view_class is None or not _configured(view_class):
            raise Http404("This email provider's webhook is not configured.")
        return view(request, *args, **kwargs)

    return guarded


def _configured(view_class) -> bool:
    from anymail.exceptions import AnymailInsecureWebhookWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", AnymailInsecureWebhookWarning)
        try:
            view_class()
        except (AnymailInsecureWebhookWarning, ImproperlyConfigured, ImportError):
            return False
    return True
