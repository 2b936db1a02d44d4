"""Rendered blog and docs pages, cached (in Redis when configured) and dropped on every change.

Each section has a generation number in the cache; a page's key includes it, so one increment on
publish or update makes every cached page of that section stale at once, on every process.
"""

from __future__ import annotations

import secrets

from django.core.cache import cache

TIMEOUT = 60 * 60
SECTIONS = ("blog", "docs")
# Values also kept in this process (cached_here): {(section, key): (generation, value)}.
_here: dict[tuple[str, str], tuple[int, object]] = {}


def _generation_key(section: str) -> str:
    return f"content:{section}:generation"


def _fresh_generation() -> int:
    """A number no earlier generation had: restarting from 1 after the cache lost the key (eviction, a
    flush) could bring back pages, or copies kept in a process, from an earlier generation 1, 2…"""
    return secrets.randbits(48)


def generation(section: str) -> int:
    value = cache.get(_generation_key(section))
    if value is None:
        fresh = _fresh_generation()
        cache.add(_generation_key(section), fresh, timeout=None)
        value = cache.get(_generation_key(section)) or fresh
    return int(value)


def invalidate(*sections: str) -> None:
    for section in sections or SECTIONS:
        try:
            cache.incr(_generation_key(section))
        except ValueError:  # not set yet (or evicted): any new number invalidates
            cache.set(_generation_key(section), _fresh_generation(), timeout=None)


def cached(section: str, key: str, render, timeout: int = TIMEOUT):
    """``render()``'s result under ``key`` in ``section``, rendered once per generation."""
    return _cached(section, generation(section), key, render, timeout)


def cached_here(section: str, key: str, render, timeout: int = TIMEOUT):
    """``cached()``, with a copy kept in this process while the section's generation holds: one round
    trip (the generation) instead of two, and nothing to unpickle. For small values read on every
    request (the docs versions, on each search keystroke); callers must not change what they get."""
    current = generation(section)
    kept = _here.get((section, key))
    if kept is not None and kept[0] == current:
        return kept[1]
    value = _cached(section, current, key, render, timeout)
    _here[(section, key)] = (current, value)
    return value


def _cached(section: str, current: int, key: str, render, timeout: int):
    full_key = f"content:{section}:{current}:{key}"
    value = cache.get(full_key)
    if value is None:
        value = render()
        cache.set(full_key, value, timeout)
    return value
