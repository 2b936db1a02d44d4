"""The one way to ask "may this actor do this?", for every door (REST, websockets, pages, admin, tasks).

Each app's ``permissions.py`` registers django-rules predicates as *rules* under names such as
``"projects.change_project"``. They are deliberately not Django permissions: ``user.has_perm`` would
let a superuser skip every object rule, and a rule such as "anyone may view a profile" would grant
Django-admin model access to every staff user. Admin model access stays with Django's own
permissions; domain decisions go through ``can`` and ``require``.
"""

from __future__ import annotations

import rules

from agentwise.errors import Forbidden, NotFound


def can(actor, rule: str, obj=None) -> bool:
    """Whether ``actor`` may do ``rule`` (on ``obj``). Superusers get no bypass; a deactivated account may do nothing."""
    if actor is None or (actor.is_authenticated and not actor.is_active):
        return False
    return rules.test_rule(rule, actor, obj)


def require(actor, rule: str, obj=None, *, message: str = "", hidden_unless: str | None = None) -> None:
    """Raises ``Forbidden(message)`` unless ``actor`` may do ``rule``.

    With ``hidden_unless``, an actor who may not even do that (typically "view" the object) gets
    ``NotFound`` instead, so refusing does not reveal that the object exists.
    """
    if can(actor, rule, obj):
        return
    if hidden_unless is not None and not can(actor, hidden_unless, obj):
        raise NotFound()
    raise Forbidden(message or None)


def add_rules(table: dict) -> None:
    """Registers ``{name: predicate}``; re-registering (module reloads in tests) replaces the rule."""
    for name, predicate in table.items():
        rules.set_rule(name, predicate)


def get_visible(queryset, **lookup):
    """``queryset.get(**lookup)`` for a queryset already scoped to what the actor may see: a missing
    object or a malformed id (not a UUID, say) is ``NotFound``, never a 500 or a 400."""
    from django.core.exceptions import ObjectDoesNotExist, ValidationError

    try:
        return queryset.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound() from None
