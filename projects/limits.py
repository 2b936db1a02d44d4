"""Plan limits per subscription tier: one table (admin-editable), one way to refuse."""

from __future__ import annotations

from django.core.cache import cache
from django.urls import reverse

from agentwise.errors import Refusal

from .models import PlanLimit

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
_LABELS = {
    "max_active_projects": "active projects",
    "max_collaborators_per_project": "collaborators per project",
    "executions_per_month": "executions per month",
    "api_calls_per_day": "API calls per day",
}
_CACHE_SECONDS = 60


def _cache_key(tier: str) -> str:
    return f"plan-limits:{tier}"


def plan_limits_for_tier(tier: str) -> dict[str, int | None]:
    limits = cache.get(_cache_key(tier))
    if limits is None:
        row = PlanLimit.objects.filter(tier=tier).values(*LIMIT_NAMES).first()
        limits = row or DEFAULT_PLAN_LIMITS.get(tier) or DEFAULT_PLAN_LIMITS["free"]
        cache.set(_cache_key(tier), limits, _CACHE_SECONDS)
    return limits


def plan_limits_for(user) -> dict[str, int | None]:
    return plan_limits_for_tier(user.profile.subscription_tier)


def plan_limits_changed(tier: str) -> None:
    cache.delete(_cache_key(tier))


def plan_limit_refusal(*, user, limit: str, allowed: int, current: int, status_code: int = 402, headers=None) -> Refusal:
    tier = user.profile.get_subscription_tier_display()
    return Refusal(
        status_code=status_code,
        code="plan_limit_reached",
        message=(
            f"Your {tier} plan allows {allowed:,} {_LABELS[limit]}; you are at {current:,}. "
            f"Upgrade your plan to raise the limit."
        ),
        extra={"limit": limit, "allowed": allowed, "current": current, "upgrade_url": reverse("pricing")},
        headers=headers,
    )


def require_below(*, user, limit: str, current: int) -> None:
    """Refuses (402) when ``current`` has reached the user's plan limit named ``limit``."""
    allowed = plan_limits_for(user).get(limit)
    if allowed is not None and current >= allowed:
        raise plan_limit_refusal(user=user, limit=limit, allowed=allowed, current=current)
