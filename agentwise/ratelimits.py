"""Per-user write limits shared by every door and every process (the `limits` library).

A limit is named once in ``settings.RATE_LIMITS`` (``"community.edit": "30/minute"``) and counted in
Redis when it is configured, so a user's REST calls and all their sockets on every daphne process
draw from one budget; without Redis (the embedded setup: one process) it counts in memory.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from agentwise.errors import Refusal

_limiter: FixedWindowRateLimiter | None = None


def _get_limiter() -> FixedWindowRateLimiter:
    global _limiter
    if _limiter is None:
        if settings.REDIS_URL:
            storage = storage_from_string(settings.REDIS_URL, key_prefix=f"{settings.CACHE_KEY_PREFIX}:limits")
        else:
            storage = storage_from_string("memory://")
        _limiter = FixedWindowRateLimiter(storage)
    return _limiter


def reset() -> None:
    """Forgets every counter (tests)."""
    _get_limiter().storage.reset()


def rate_limit_hit(name: str, *identifiers, cost: int = 1, rate: str | None = None, message: str = "") -> None:
    """Counts ``cost`` against the limit ``name`` for ``identifiers`` (a user id, a channel…).

    Refuses with 429 ``rate_limited`` (``retry_after`` in seconds) once the window is spent; a
    refused hit is not counted, so a client that backs off is served as soon as the window turns.
    """
    item = parse(rate or settings.RATE_LIMITS[name])
    limiter = _get_limiter()
    keys = [name, *(str(i) for i in identifiers)]
    # Test first: a refused request must not spend the budget (a refused upload is not quota used).
    if limiter.test(item, *keys, cost=cost) and limiter.hit(item, *keys, cost=cost):
        return
    reset_at = limiter.get_window_stats(item, *keys).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise Refusal(
        message or f"Slow down: at most {_describe(item)}.",
        status_code=429,
        code="rate_limited",
        extra={"retry_after": retry_after, "limit": name},
        headers={"Retry-After": str(retry_after)},
    )


def rate_limit_allows(name: str, *identifiers) -> bool:
    """Counts one hit if the window has room and says whether it had: for limits that skip quietly
    (a confirmation email not sent again) instead of refusing the request."""
    item = parse(settings.RATE_LIMITS[name])
    return _get_limiter().hit(item, name, *(str(i) for i in identifiers))


def rate_limit_wait(name: str, *, rate: str) -> None:
    """Blocks until one more hit fits in ``rate``: a pace shared by every worker (newsletter sending)."""
    item = parse(rate)
    limiter = _get_limiter()
    while not limiter.hit(item, name):
        reset_at = limiter.get_window_stats(item, name).reset_time
        time.sleep(min(1.0, max(0.005, reset_at - time.time())))


def _describe(item) -> str:
    unit = item.GRANULARITY.name
    per = f"{item.multiples} {unit}s" if item.multiples > 1 else unit
    return f"{item.amount:,} per {per}"
