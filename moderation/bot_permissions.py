"""Who may act on bot detection (docs/bot-detection.md): staff holding the admin's change permission
on detections (to lift blocks) or on allow-list entries (the Moderators group has them). Asked through
``agentwise.access.can`` / ``require``."""

from __future__ import annotations

import rules

from agentwise.access import add_rules


def _staff_with(permission: str):
    @rules.predicate(name=f"staff_with_{permission}")
    def check(user) -> bool:
        return bool(user.is_authenticated and user.is_staff and user.has_perm(permission))

    return check


add_rules(
    {
        "moderation.lift_botdetection": _staff_with("moderation.change_botdetection"),
        "moderation.change_allowlistentry": _staff_with("moderation.change_allowlistentry"),
    }
)
