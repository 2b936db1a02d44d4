"""Plan limits per subscription tier: one table (admin-editable), one way to count against it, one way
to refuse (402 ``plan_limit_reached``, or 429 for the daily API allowance)."""

from __future__ import annotations

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from agentwise.errors import Refusal

from .models import PlanLimit
from .plans import DEFAULT_PLAN_LIMITS, LIMIT_LABELS, LIMIT_NAMES, SubscriptionStatus, SubscriptionTier

_CACHE_SECONDS = 60


def _cache_key(tier: str) -> str:
    return f"plan-limits:{tier}"


def effective_tier(profile) -> str:
    """The tier whose limits apply: a past-due account keeps its paid tier until its grace period ends,
    even before the hourly task writes the fall back to Free."""
    if (
        profile.subscription_status == SubscriptionStatus.PAST_DUE
        and profile.subscription_grace_until is not None
        and profile.subscription_grace_until <= timezone.now()
    ):
        return SubscriptionTier.FREE
    return profile.subscription_tier


def plan_limits_for_tier(tier: str) -> dict[str, int | None]:
    limits = cache.get(_cache_key(tier))
    if limits is None:
        row = PlanLimit.objects.filter(tier=tier).values(*LIMIT_NAMES).first()
        limits = row or DEFAULT_PLAN_LIMITS.get(tier) or DEFAULT_PLAN_LIMITS["free"]
        cache.set(_cache_key(tier), limits, _CACHE_SECONDS)
    return limits


def plan_limits_for(user) -> dict[str, int | None]:
    return plan_limits_for_tier(effective_tier(user.profile))


def plan_limits_changed(tier: str) -> None:
    cache.delete(_cache_key(tier))


def plan_limit_refusal(*, user, limit: str, allowed: int, current: int, status_code: int = 402, headers=None) -> Refusal:
    tier = SubscriptionTier(effective_tier(user.profile)).label
    return Refusal(
        status_code=status_code,
        code="plan_limit_reached",
        message=(
            f"Your {tier} plan allows {allowed:,} {LIMIT_LABELS[limit]}; you are at {current:,}. "
            f"Upgrade your plan to raise the limit."
        ),
        extra={"limit": limit, "allowed": allowed, "current": current, "upgrade_url": reverse("pricing")},
        headers=headers,
    )


def require_within(*, user, limit: str, count: int, status_code: int = 402, retry_after: int | None = None) -> None:
    """Refuses when ``count`` — what the user would have, this one included — goes past the plan's
    ``limit``. Callers count first (a row count, or a metering counter already incremented) and call
    this; the refusal says how many they had before this one."""
    allowed = plan_limits_for(user).get(limit)
    if allowed is None or count <= allowed:
        return
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    refusal = plan_limit_refusal(
        user=user, limit=limit, allowed=allowed, current=count - 1, status_code=status_code, headers=headers
    )
    if retry_after is not None:
        refusal.extra["retry_after"] = retry_after
    raise refusal
