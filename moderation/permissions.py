"""Who may do what in moderation: members report, staff work the queue and sanction.

Asked through ``agentwise.access.can`` / ``require`` like every other domain rule.
"""

from __future__ import annotations

import rules

from agentwise.access import add_rules


@rules.predicate
def is_not_self(user, target) -> bool:
    return target is None or getattr(target, "pk", None) != user.pk


@rules.predicate
def outranks(user, target) -> bool:
    """Staff sanction members; only a superuser sanctions staff (a moderator cannot lock out an admin)."""
    if target is None:
        return True
    return user.is_superuser or not (target.is_staff or target.is_superuser)


add_rules(
    {
        "moderation.report_content": rules.is_authenticated & rules.is_active,
        "moderation.moderate_content": rules.is_authenticated & rules.is_staff,  # work the queue
        "moderation.sanction_user": rules.is_authenticated & rules.is_staff & is_not_self & outranks,
    }
)
