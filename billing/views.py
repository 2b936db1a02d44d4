"""Billing pages (pricing, your billing) and the Stripe webhook endpoint."""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.contrib.auth.decorators import login_not_required, login_required
from django.db import transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from djstripe.models import WebhookEndpoint, WebhookEventTrigger

from agentwise.api.errors import error_response

from . import selectors, services

logger = logging.getLogger(__name__)

# The one dj-stripe endpoint row our /stripe/webhook/ stands for; its secret is DJSTRIPE_WEBHOOK_SECRET.
SETTINGS_ENDPOINT_ID = "we_agentwise_settings"
SIGNATURE_TOLERANCE_SECONDS = 300  # Stripe's own default: a captured delivery replays for 5 minutes at most


def pricing(request):
    return render(
        request,
        "billing/pricing.html",
        {
            "plans": selectors.pricing_plans(),
            "overview": (
                selectors.billing_overview(request.user, with_history=False) if request.user.is_authenticated else None
            ),
            "checkout_cancelled": request.GET.get("checkout") == "cancelled",
        },
    )


@login_required
def account_billing(request):
    return render(
        request,
        "billing/account_billing.html",
        {
            "section": "billing",
            "overview": selectors.billing_overview(request.user),
            "checkout_success": request.GET.get("checkout") == "success",
        },
    )


@login_required
@require_POST
def checkout_redirect(request):
    """The pricing page's Upgrade button: off to Stripe Checkout (303), or the refusal's page."""
    url = services.checkout_url_create(user=request.user, price_id=request.POST.get("price", ""))
    return HttpResponseRedirect(url, status=303)


@login_required
@require_POST
def portal_redirect(request):
    return HttpResponseRedirect(services.portal_url_create(user=request.user), status=303)


def _settings_endpoint() -> WebhookEndpoint:
    secret, livemode = settings.DJSTRIPE_WEBHOOK_SECRET, settings.STRIPE_LIVE_MODE
    endpoint = WebhookEndpoint.objects.filter(id=SETTINGS_ENDPOINT_ID).first()
    if endpoint is None or endpoint.secret != secret or endpoint.livemode != livemode:
        endpoint, _ = WebhookEndpoint.objects.update_or_create(
            id=SETTINGS_ENDPOINT_ID,
            defaults={
                "secret": secret,
                "livemode": livemode,
                "url": settings.SITE_URL + "/stripe/webhook/",
                "enabled_events": ["*"],
                "status": "enabled",
                "api_version": "",
                "stripe_data": {},
            },
        )
    return endpoint


@csrf_exempt
@login_not_required
@require_POST
@transaction.non_atomic_requests
def stripe_webhook(request):
    """Stripe's events. The signature is checked before anything is stored: a bad or missing one is a
    400 that leaves no row behind. A valid event goes through dj-stripe (stored once per event id, synced)
    and billing's receivers; when that fails the answer is 503 and Stripe delivers it again."""
    secret = settings.DJSTRIPE_WEBHOOK_SECRET
    if not secret:
        return error_response(503, "Stripe webhooks are not set up here (DJSTRIPE_WEBHOOK_SECRET).", code="webhook_not_configured")
    try:
        stripe.WebhookSignature.verify_header(
            request.body.decode("utf-8"), request.headers.get("Stripe-Signature", ""), secret, SIGNATURE_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        return error_response(400, "The Stripe-Signature header is missing or does not match.", code="bad_signature")
    # dj-stripe lets this header replace the secret while DEBUG is on (for the Stripe CLI); never here.
    request.META.pop("HTTP_X_DJSTRIPE_WEBHOOK_SECRET", None)
    try:
        trigger = WebhookEventTrigger.from_request(request, webhook_endpoint=_settings_endpoint())
    except Exception:  # noqa: BLE001  (every failure must reach Stripe as "retry", never as a 500 page)
        # dj-stripe rolled the event back and kept the trigger row with the traceback (admin: Webhook event triggers).
        logger.exception("Stripe event failed; Stripe will deliver it again")
        return error_response(503, "The event could not be processed now; deliver it again.", code="retry_later")
    if not trigger.valid:
        return error_response(400, "The event did not validate.", code="invalid_event")
    return JsonResponse({"received": True, "event": trigger.event_id or ""})
