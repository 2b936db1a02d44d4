"""The Stripe events billing acts on. dj-stripe verifies, stores and syncs each event (a replayed event id
is not processed twice); these receivers then set the plan from Stripe's current state."""

from __future__ import annotations

from djstripe.signals import WEBHOOK_SIGNALS

from . import services

HANDLED_EVENTS = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
)


def _ref(value) -> str:
    return (value.get("id") if isinstance(value, dict) else value) or ""


def event_received(sender, event, **kwargs) -> None:
    """Runs inside dj-stripe's transaction for the event: an exception (Stripe unreachable while we
    re-read) rolls the event back and the endpoint answers non-2xx, so Stripe delivers it again."""
    obj = event.data.get("object") or {}
    customer_id = _ref(obj.get("customer"))
    if event.type == "checkout.session.completed":
        if obj.get("mode") != "subscription":
            return
        services.checkout_completed(customer_id=customer_id, user_id=obj.get("client_reference_id"))
    if customer_id:
        services.subscription_state_sync(customer_id=customer_id, source=f"{event.type} {event.id}")


for _event_type in HANDLED_EVENTS:
    WEBHOOK_SIGNALS[_event_type].connect(event_received, dispatch_uid=f"billing.{_event_type}")
