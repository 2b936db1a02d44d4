"""Meters every API-key request as an ``api_calls`` event and enforces the plan's daily allowance (429)."""

from datetime import UTC, datetime, timedelta

from rest_framework.throttling import BaseThrottle

from accounts.authentication import ApiKeyAuthentication
from projects import metering

from . import limits


class PlanApiCallsThrottle(BaseThrottle):
    """Counts only requests authenticated by an API key: the agent CLI and scripts, not the browser."""

    def allow_request(self, request, view):
        if not isinstance(request.successful_authenticator, ApiKeyAuthentication):
            return True
        # The user object was loaded by the key's authentication for this request alone, so it may keep
        # the plan limits read here for the rest of the request (the service asks again).
        limits.remember_for_request(request.user)
        counters = metering.usage_increment(user_id=request.user.pk, counts={"api_calls": 1})
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        limits.require_within(
            user=request.user,
            limit="api_calls_per_day",
            count=counters[("api_calls", "day")],
            status_code=429,
            retry_after=max(1, int((midnight - now).total_seconds())),
        )
        return True
