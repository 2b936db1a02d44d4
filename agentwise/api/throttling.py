"""The API's per-user request throttle: DRF's rule, in one cache round trip on Redis."""

import itertools
import os

from django.core.cache import cache
from rest_framework import throttling

# DRF's sliding window as a Redis sorted set of request times: drop the times older than the window,
# refuse when the rest reach the limit (a refused request is not recorded), else record this one.
# Returns {allowed, requests in the window, oldest time in it (string) when refused}.
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, oldest[2] or ''}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {1, count + 1, ''}
"""
_member = itertools.count()
_PROCESS = f"{os.getpid()}-{os.urandom(3).hex()}"


def _redis_client():
    """The Redis connection behind the default cache, or None when the cache is not django-redis."""
    get_client = getattr(getattr(cache, "client", None), "get_client", None)
    return get_client(write=True) if get_client else None


class UserRateThrottle(throttling.UserRateThrottle):
    """DRF's ``UserRateThrottle``, same rule and same ``Retry-After``; on Redis one script call per
    request instead of reading and rewriting the whole history (up to ``rate`` floats, pickled) in two
    round trips. It is read on every API request, so this is part of what every API call costs
    (docs/performance.md). Other caches (tests without Redis) keep DRF's own implementation."""

    cache_format = "throttle-window_%(scope)s_%(ident)s"  # a sorted set: not DRF's list under its key
    _script = None

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        client = _redis_client()
        if client is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        if UserRateThrottle._script is None:
            UserRateThrottle._script = client.register_script(_SLIDING_WINDOW)
        self.now = self.timer()
        allowed, self._count, oldest = UserRateThrottle._script(
            keys=[cache.make_key(self.key)],
            args=[repr(self.now), self.duration, self.num_requests, f"{self.now!r}-{_PROCESS}-{next(_member)}"],
            client=client,
        )
        self._oldest = float(oldest) if oldest else None
        return bool(allowed)

    def wait(self):
        if not hasattr(self, "_count"):
            return super().wait()
        # DRF's arithmetic on its history list: the oldest request and how many are in the window.
        remaining = self.duration - (self.now - self._oldest) if self._oldest is not None else self.duration
        available = self.num_requests - self._count + 1
        if available <= 0:
            return None
        return remaining / available
