"""Rendered blog and docs pages, cached (in Redis when configured) and dropped on every change.

Each section has a generation number in the cache; a page's key includes it, so one increment on
publish or update makes every cached page of that section stale at once, on every process.
"""

from __future__ import annotations

from django.core.cache import cache

TIMEOUT = 60 * 60
SECTIONS = ("blog", "docs")


def _generation_key(section: str) -> str:
    return f"content:{section}:generation"


def generation(section: str) -> int:
    value = cache.get(_generation_key(section))
    if value is None:
        cache.add(_generation_key(section), 1, timeout=None)
        value = cache.get(_generation_key(section)) or 1
    return int(value)


def invalidate(*sections: str) -> None:
    for section in sections or SECTIONS:
        try:
            cache.incr(_generation_key(section))
        except ValueError:  # not set yet (or evicted): any new number invalidates
            cache.set(_generation_key(section), 2, timeout=None)


def cached(section: str, key: str, render, timeout: int = TIMEOUT):
    """``render()``'s result under ``key`` in ``section``, rendered once per generation."""
    full_key = f"content:{section}:{generation(section)}:{key}"
    value = cache.get(full_key)
    if value is None:
        value = render()
        cache.set(full_key, value, timeout)
    return value
