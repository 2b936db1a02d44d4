"""Telling a user what moderation did about their content or account (notification kind ``moderation``)."""

from __future__ import annotations


def user_notify(*, user, title: str, body: str = "", url: str = "", data: dict | None = None) -> None:
    """An in-app notice, emailed at once (``Delivery.IMMEDIATE``); sent after commit like every notification."""
    from accounts.notifications import notification_send

    if user is None or not user.is_active:
        return
    notification_send(user=user, kind="moderation", title=title[:200], body=body, url=url, data=data or {}, email=True)
