"""Sanctions and new-user limits (docs/reports-and-sanctions.md). Stub until that work lands."""

from __future__ import annotations


def posting_check(*, actor, text: str, field: str = "content", surface: str = "") -> None:
    """Refuses a post from a silenced user (403), past a posting limit (429), or a new user's link or
    image (400 on ``field``)."""
    return None
