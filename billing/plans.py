"""The plans: tiers, subscription statuses, the starting limits, and which Stripe price buys which tier."""

from __future__ import annotations

from django.db import models


class SubscriptionTier(models.TextChoices):
    FREE = "free", "Free"
    PRO = "pro", "Pro"
    ENTERPRISE = "enterprise", "Enterprise"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    TRIALING = "trialing", "Trialing"
    PAST_DUE = "past_due", "Past due"
    CANCELED = "canceled", "Canceled"
    INCOMPLETE = "incomplete", "Incomplete"
    UNPAID = "unpaid", "Unpaid"


# Stripe subscription statuses that hold a paid plan. ``incomplete`` (first payment not made yet),
# ``unpaid``, ``paused`` and ``canceled`` do not.
PLAN_HOLDING = ("active", "trialing", "past_due")

# Highest first: when a customer has several live subscriptions, the best tier governs.
TIER_RANK = {SubscriptionTier.FREE: 0, SubscriptionTier.PRO: 1, SubscriptionTier.ENTERPRISE: 2}

# The initial values, written by a data migration; staff change them in the admin. None = unlimited.
DEFAULT_PLAN_LIMITS = {
    "free": {
        "max_active_projects": 3,
        "max_collaborators_per_project": 2,
        "executions_per_month": 1_000,
        "api_calls_per_day": 5_000,
    },
    "pro": {
        "max_active_projects": 50,
        "max_collaborators_per_project": 20,
        "executions_per_month": 50_000,
        "api_calls_per_day": 100_000,
    },
    "enterprise": {
        "max_active_projects": None,
        "max_collaborators_per_project": None,
        "executions_per_month": None,
        "api_calls_per_day": None,
    },
}
LIMIT_NAMES = ("max_active_projects", "max_collaborators_per_project", "executions_per_month", "api_calls_per_day")
LIMIT_LABELS = {
    "max_active_projects": "active projects",
    "max_collaborators_per_project": "collaborators per project",
    "executions_per_month": "executions per month",
    "api_calls_per_day": "API calls per day",
}


def ensure_plan_limits(plan_limit_model=None) -> None:
    """Creates missing rows, never overwriting staff edits. The model class may come from a migration."""
    if plan_limit_model is None:
        from .models import PlanLimit as plan_limit_model
    for tier, values in DEFAULT_PLAN_LIMITS.items():
        plan_limit_model.objects.get_or_create(tier=tier, defaults=values)


def tier_for_price(price) -> str | None:
    """The one place a Stripe price maps to a tier: ``metadata.tier`` on the price, else on its product.

    ``price`` is a dj-stripe ``Price`` or a raw Stripe price dict (with ``product`` expanded or not).
    None when neither names a paid tier we sell."""
    for metadata in _price_metadata(price):
        tier = str((metadata or {}).get("tier", "")).strip().lower()
        if tier in TIER_RANK and tier != SubscriptionTier.FREE:
            return tier
    return None


def _price_metadata(price):
    if isinstance(price, dict):
        yield price.get("metadata")
        product = price.get("product")
        if isinstance(product, dict):
            yield product.get("metadata")
        elif product:
            from djstripe.models import Product

            found = Product.objects.filter(id=product).first()
            yield found.metadata if found else None
        return
    yield price.metadata
    product = getattr(price, "product", None)
    yield product.metadata if product is not None else None
