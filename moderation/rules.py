"""Content rules (docs/content-rules.md). Stub until the content-rules work lands."""

from __future__ import annotations


def content_check(*, text: str, field: str, author, surface: str, can_hide: bool = True):
    from .gate import Screened

    return Screened(text=text)


def flags_queue(*, screened, content_type: str, content_id, author) -> None:
    return None
