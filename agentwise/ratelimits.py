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
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from agentwise.errors import Refusal

_limiter: FixedWindowRateLimiter | None = None
_test_and_hit = None  # TEST_AND_HIT registered with the limiter's Redis (None: counting in memory)

# limits' fixed window in one atomic round trip (test, then hit, is two and can race): counts ARGV[2]
# in the window KEYS[1] (expiring after ARGV[3] seconds) only if the total stays within ARGV[1];
# returns 0 when it does, else the seconds until the window turns. Same keys as limits' own calls.
TEST_AND_HIT = """
local cost = tonumber(ARGV[2])
if tonumber(redis.call("get", KEYS[1]) or "0") + cost > tonumber(ARGV[1]) then
    return math.max(redis.call("ttl", KEYS[1]), 1)
end
if redis.call("incrby", KEYS[1], cost) == cost then
    redis.call("expire", KEYS[1], ARGV[3])
end
return 0
"""


def _get_limiter() -> FixedWindowRateLimiter:
    global _limiter, _test_and_hit
    if _limiter is None:
        if settings.REDIS_URL:
            storage = storage_from_string(settings.REDIS_URL, key_prefix=f"{settings.CACHE_KEY_PREFIX}:limits")
        else:
            storage = storage_from_string("memory://")
        if isinstance(storage, RedisStorage):
            _test_and_hit = storage.get_connection().register_script(TEST_AND_HIT)
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
    retry_after = _spend(item, [name, *(str(i) for i in identifiers)], cost)
    if not retry_after:
        return
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


def _spend(item, keys: list[str], cost: int) -> int:
    """Counts ``cost`` if it fits in the window (0), else leaves the window as it is and answers the
    seconds until it turns: a refused request must not spend the budget (a refused upload is not
    quota used). One round trip to Redis: it runs on every search keystroke."""
    limiter = _get_limiter()
    if _test_and_hit is not None:
        key = limiter.storage.prefixed_key(item.key_for(*keys))
        return int(_test_and_hit([key], [item.amount, cost, item.get_expiry()]))
    if limiter.test(item, *keys, cost=cost) and limiter.hit(item, *keys, cost=cost):
        return 0
    return max(1, math.ceil(limiter.get_window_stats(item, *keys).reset_time - time.time()))


def _describe(item) -> str:
    unit = item.GRANULARITY.name
    per = f"{item.multiples} {unit}s" if item.multiples > 1 else unit
    return f"{item.amount:,} per {per}"
