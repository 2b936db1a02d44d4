"""Billing writes: the user's Stripe customer, Checkout and portal sessions, and the profile's plan as Stripe
says it is now.

Webhooks only tell us *that* something changed. ``subscription_state_sync`` then asks Stripe for the
customer's subscriptions as they are, under a lock on the profile row, and sets the plan from that: a late,
repeated or out-of-order event re-reads the same current state, so it can never roll the plan back.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from djstripe.exceptions import InvalidStripeAPIKey
from djstripe.models import Customer, Price, Subscription
from djstripe.settings import djstripe_settings

from accounts.models import Profile, User
from agentwise.errors import Refusal
from moderation.audit import audit_record

from . import selectors
from .plans import PLAN_HOLDING, TIER_RANK, SubscriptionStatus, SubscriptionTier, tier_for_price

logger = logging.getLogger(__name__)



class BillingUnavailable(Refusal):
    status_code = 503
    code = "billing_unavailable"
    default_message = "Stripe could not be reached; nothing was charged or changed. Try again in a minute."


def _api_key() -> str:
    key = djstripe_settings.STRIPE_SECRET_KEY
    if not key:
        raise BillingUnavailable(
            "Billing is not set up on this server (no Stripe secret key).", code="billing_not_configured"
        )
    return key


def _livemode() -> bool:
    return bool(settings.STRIPE_LIVE_MODE)


class _stripe_calls:
    """Stripe failing (down, slow, refusing our key) is a 503 for the user, never a 500; it is logged."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, stripe.StripeError | InvalidStripeAPIKey):
            logger.warning("Stripe call failed: %s", error)
            raise BillingUnavailable(headers={"Retry-After": "60"}) from error
        return False


def customer_for(user: User) -> Customer:
    """The user's Stripe customer, created once: dj-stripe's subscriber customer, made under a lock on the
    profile row (two tabs clicking Upgrade wait for each other) and with dj-stripe's idempotency key."""
    api_key = _api_key()
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(user=user)
        with _stripe_calls():
            customer, _ = Customer.get_or_create(subscriber=user, livemode=_livemode(), api_key=api_key)
        if profile.stripe_customer_id != customer.id:
            profile.stripe_customer_id = customer.id
            profile.save(update_fields=["stripe_customer_id", "updated_at"])
    return customer


def checkout_url_create(*, user: User, price_id: str) -> str:
    """A Stripe Checkout page for a subscription to ``price_id``. Stripe sends the user back to SITE_URL's
    pages, never to an address the client gave (no open redirect, no forged Host)."""
    price = Price.objects.select_related("product").filter(id=price_id, active=True, livemode=_livemode()).first()
    if price is None or tier_for_price(price) is None:
        raise ValidationError({"price": ["Unknown price. Choose one of the plans listed on /pricing/."]})
    tier, status = Profile.objects.filter(user=user).values_list("subscription_tier", "subscription_status").get()
    if tier != SubscriptionTier.FREE and status in PLAN_HOLDING:
        raise Refusal(
            "You already have a subscription. Change or cancel it in the billing portal.",
            status_code=409,
            code="already_subscribed",
            extra={"portal_url": reverse("billing_portal_api")},
        )
    customer = customer_for(user)
    with _stripe_calls():
        session = stripe.checkout.Session.create(
            api_key=_api_key(),
            mode="subscription",
            customer=customer.id,
            client_reference_id=str(user.pk),
            line_items=[{"price": price.id, "quantity": 1}],
            success_url=settings.SITE_URL + reverse("account_billing") + "?checkout=success",
            cancel_url=settings.SITE_URL + reverse("pricing") + "?checkout=cancelled",
            metadata={"agentwise_user_id": str(user.pk)},
            subscription_data={"metadata": {"agentwise_user_id": str(user.pk)}},
        )
    return session["url"]


def portal_url_create(*, user: User) -> str:
    """Stripe's customer portal, where the user changes plan, card or cancels, and downloads invoices."""
    customer = selectors.customer_of(user)
    if customer is None:
        raise Refusal(
            "You have no billing account yet. Choose a plan on the pricing page first.",
            status_code=409,
            code="no_billing_account",
            extra={"pricing_url": reverse("pricing")},
        )
    with _stripe_calls():
        session = stripe.billing_portal.Session.create(
            api_key=_api_key(), customer=customer.id, return_url=settings.SITE_URL + reverse("account_billing")
        )
    return session["url"]


def checkout_completed(*, customer_id: str, user_id: str | None) -> None:
    """A Checkout finished: make sure its customer is linked to the user who started it (a customer made
    outside our pages, e.g. by a payment link, has no subscriber yet)."""
    if not customer_id or not user_id:
        return
    try:
        user = User.objects.filter(pk=uuid.UUID(str(user_id))).first()
    except ValueError:
        return
    if user is None:
        return
    updated = Customer.objects.filter(id=customer_id, subscriber__isnull=True).exclude(
        subscriber=user
    ).update(subscriber=user)
    if updated:
        Profile.objects.filter(user=user, stripe_customer_id="").update(stripe_customer_id=customer_id)


def _user_for_customer(customer_id: str) -> User | None:
    customer = Customer.objects.filter(id=customer_id).select_related("subscriber").first()
    if customer is not None and customer.subscriber_id:
        return customer.subscriber
    profile = Profile.objects.filter(stripe_customer_id=customer_id).select_related("user").first()
    return profile.user if profile else None


def _subscriptions_from_stripe(customer_id: str) -> list[Subscription]:
    """Every subscription of the customer, as Stripe has it now, synced into dj-stripe's tables."""
    api_key = _api_key()
    listed = Subscription.api_list(api_key=api_key, customer=customer_id, status="all")
    return [Subscription.sync_from_stripe_data(data, api_key=api_key) for data in listed]


def _tier_of(subscription: Subscription) -> str:
    """The best tier among the subscription's current items (a plan change swaps the item's price)."""
    tiers = []
    for item in (subscription.stripe_data.get("items") or {}).get("data", []):
        price = item.get("price") or {}
        price_id = price.get("id") if isinstance(price, dict) else price
        local = Price.objects.select_related("product").filter(id=price_id).first()
        tier = tier_for_price(local) if local is not None else tier_for_price(price if isinstance(price, dict) else {})
        if tier:
            tiers.append(tier)
    if not tiers:
        logger.warning("Subscription %s has no price with metadata.tier; it counts as Free", subscription.id)
        return SubscriptionTier.FREE
    return max(tiers, key=TIER_RANK.__getitem__)


def _plan_from(subscriptions: list[Subscription]) -> tuple[str, str]:
    """(tier, status): the best plan-holding subscription governs; with none, Free, in the status of the
    newest subscription (canceled, incomplete, unpaid), or active when there never was one."""
    holding = [s for s in subscriptions if s.status in PLAN_HOLDING]
    if holding:
        best = max(holding, key=lambda s: (TIER_RANK[_tier_of(s)], s.created or timezone.now()))
        return _tier_of(best), best.status
    if not subscriptions:
        return SubscriptionTier.FREE, SubscriptionStatus.ACTIVE
    newest = max(subscriptions, key=lambda s: s.created or timezone.now())
    status = newest.status if newest.status in SubscriptionStatus.values else SubscriptionStatus.CANCELED
    return SubscriptionTier.FREE, status


def subscription_state_sync(*, customer_id: str, source: str = "") -> Profile | None:
    """Sets the profile's plan, status and customer id from the customer's subscriptions as Stripe has them
    now. Idempotent; audited when something changes. None when the customer belongs to no user here.

    Stripe is asked *after* the profile row is locked, so of two concurrent webhooks the one that commits
    last also read last: the newest state is the one that stays."""
    user = _user_for_customer(customer_id)
    if user is None:
        logger.info("Stripe customer %s belongs to no user here; event %s ignored", customer_id, source)
        return None
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(user=user)
        with _stripe_calls():
            subscriptions = _subscriptions_from_stripe(customer_id)
        tier, status = _plan_from(subscriptions)
        return _plan_apply(profile=profile, tier=tier, status=status, customer_id=customer_id, source=source)


def _plan_apply(*, profile: Profile, tier: str, status: str, customer_id: str, source: str) -> Profile:
    now = timezone.now()
    grace_until = None
    if status == SubscriptionStatus.PAST_DUE:
        already = profile.subscription_status == SubscriptionStatus.PAST_DUE and profile.subscription_grace_until
        grace_until = profile.subscription_grace_until if already else now + timedelta(days=settings.BILLING_GRACE_DAYS)
        if grace_until <= now:
            tier = SubscriptionTier.FREE
    new = {
        "subscription_tier": tier,
        "subscription_status": status,
        "stripe_customer_id": customer_id or profile.stripe_customer_id,
        "subscription_grace_until": grace_until,
    }
    old = {field: getattr(profile, field) for field in new}
    if old == new:
        return profile
    for field, value in new.items():
        setattr(profile, field, value)
    profile.save(update_fields=[*new, "updated_at"])
    audit_record(
        "billing.plan_sync",
        resource=profile,
        metadata={
            "user_id": profile.user_id,
            "old": {"tier": old["subscription_tier"], "status": old["subscription_status"]},
            "new": {"tier": tier, "status": status},
            "grace_until": grace_until.isoformat() if grace_until else None,
            "source": source,
        },
    )
    if old["subscription_tier"] != tier:
        _plan_changed(profile.user_id)
    return profile


def _plan_changed(user_id) -> None:
    from projects.services import usage_cache_bump

    transaction.on_commit(lambda: usage_cache_bump(user_id))


def grace_periods_expire(*, now=None) -> int:
    """Past-due accounts whose grace period has ended fall back to Free (their status stays past_due until
    Stripe says otherwise). The limits already apply Free from that moment; this writes it down, audited."""
    now = now or timezone.now()
    expired = Profile.objects.filter(
        subscription_status=SubscriptionStatus.PAST_DUE, subscription_grace_until__lte=now
    ).exclude(subscription_tier=SubscriptionTier.FREE)
    count = 0
    for user_id in expired.values_list("user_id", flat=True):
        with transaction.atomic():
            profile = Profile.objects.select_for_update().get(user_id=user_id)
            if profile.subscription_tier == SubscriptionTier.FREE or profile.subscription_status != SubscriptionStatus.PAST_DUE:
                continue
            old = profile.subscription_tier
            profile.subscription_tier = SubscriptionTier.FREE
            profile.save(update_fields=["subscription_tier", "updated_at"])
            audit_record(
                "billing.grace_expired",
                resource=profile,
                metadata={"user_id": user_id, "old": {"tier": old}, "new": {"tier": SubscriptionTier.FREE}},
            )
            _plan_changed(user_id)
            count += 1
    return count


# --- Account deletion ------------------------------------------------------------------------------

# Stripe statuses after which a subscription charges nothing more.
_ENDED_STATUSES = ("canceled", "incomplete_expired")


def _customer_ids_of(user: User) -> list[str]:
    ids = set(Customer.objects.filter(subscriber=user).values_list("id", flat=True))
    ids |= set(Profile.objects.filter(user=user).exclude(stripe_customer_id="").values_list("stripe_customer_id", flat=True))
    return sorted(ids)


def subscriptions_cancel_for_deletion(*, user: User) -> list[str]:
    """Cancels at once, at Stripe, every live subscription of the user's customers; returns their ids.

    Called by ``accounts.deletion.account_delete`` *before* anything is deleted here: if Stripe cannot be
    reached it raises ``BillingUnavailable`` (503) and the account stays whole, to be deleted on a retry.
    Safe to run twice (an ended subscription is skipped). A user who never had a customer costs no call.
    """
    customer_ids = _customer_ids_of(user)
    if not customer_ids:
        return []
    api_key = _api_key()
    canceled = []
    with _stripe_calls():
        for customer_id in customer_ids:
            listed = stripe.Subscription.list(api_key=api_key, customer=customer_id, status="all")
            for subscription in listed.auto_paging_iter():
                if subscription["status"] in _ENDED_STATUSES:
                    continue
                stripe.Subscription.cancel(subscription["id"], api_key=api_key)
                canceled.append(subscription["id"])
    if canceled:
        logger.info("Canceled %d subscription(s) of a deleted account", len(canceled))
    return canceled


def customer_records_forget(*, user: User) -> int:
    """Deletes our local copy (dj-stripe's tables) of the user's customers and what hangs off them, in the
    caller's transaction. Stripe keeps its own records (invoices are accounting records); nothing here
    names the person any more. Returns how many customers were removed."""
    from djstripe.models import IdempotencyKey

    customer_ids = _customer_ids_of(user)
    IdempotencyKey.objects.filter(action=f"customer:create:{user.pk}").delete()
    deleted = 0
    for customer in Customer.objects.filter(id__in=customer_ids):
        customer.delete()
        deleted += 1
    return deleted
