"""The shared rate limiter, in whichever store the settings give it (Redis with REDIS_URL, else memory)."""

from agentwise import ratelimits
from agentwise.errors import Refusal


def _spent(name, *who, cost=1, rate="3/minute"):
    try:
        ratelimits.rate_limit_hit(name, *who, cost=cost, rate=rate)
    except Refusal as refusal:
        return refusal
    return None


def test_a_window_serves_its_amount_then_refuses_with_retry_after():
    assert [_spent("t.window", "u1") for _ in range(3)] == [None, None, None]
    refusal = _spent("t.window", "u1")
    assert refusal.status_code == 429 and refusal.code == "rate_limited"
    assert 1 <= refusal.extra["retry_after"] <= 60
    assert refusal.headers["Retry-After"] == str(refusal.extra["retry_after"])
    assert _spent("t.window", "u2") is None  # another client's budget
    assert _spent("t.other", "u1") is None  # another limit's budget


def test_a_refused_cost_is_not_counted():
    assert _spent("t.cost", "u1", cost=2) is None
    assert _spent("t.cost", "u1", cost=2) is not None  # 2 + 2 > 3: refused, and not spent
    assert _spent("t.cost", "u1", cost=1) is None  # so the last one still fits
    assert _spent("t.cost", "u1", cost=1) is not None
    assert _spent("t.big", "u1", cost=4).extra["retry_after"] >= 1  # more than a whole window
