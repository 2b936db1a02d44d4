"""Meters every API-key request as an ``api_calls`` event and enforces the plan's daily limit (429)."""

from datetime import UTC, datetime, timedelta

from rest_framework.throttling import BaseThrottle

from accounts.authentication import ApiKeyAuthentication

from .. import limits, metering


class PlanApiCallsThrottle(BaseThrottle):
    """Counts only requests authenticated by an API key: the agent CLI and scripts, not the browser."""

    def allow_request(self, request, view):
        if not isinstance(request.successful_authenticator, ApiKeyAuthentication):
            return True
        user = request.user
        counters = metering.usage_increment(user_id=user.pk, counts={"api_calls": 1})
        allowed = limits.plan_limits_for(user).get("api_calls_per_day")
        today = counters[("api_calls", "day")]
        if allowed is not None and today > allowed:
            now = datetime.now(UTC)
            midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            wait = max(1, int((midnight - now).total_seconds()))
            refusal = limits.plan_limit_refusal(
                user=user,
                limit="api_calls_per_day",
                allowed=allowed,
                current=today - 1,
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
            refusal.extra["retry_after"] = wait
            raise refusal
        return True
