"""Who hears about what in the community: ``@username`` mentions in chat messages, forum topics and
replies, and the forum's own events (a reply to your topic, a solution chosen).

A mention notifies a user only if that user can see the place it was written in (a private channel's
text never reaches a non-member through a notification), never the author themself, and once per user
per message however often the name is repeated. Notifications are created after the write commits.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.db import transaction

from agentwise.access import can

# A handle (3–50 letters, digits, '-' or '_') after '@' that is not part of an email address or a word.
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_-]{3,50})(?![\w-])")
MAX_MENTIONS = 20  # a message naming more people than this notifies the first 20 (anti-spam)


def mentioned_usernames(text: str) -> list[str]:
    """Handles in order of first appearance, lower-cased, without repeats; code spans are skipped."""
    text = re.sub(r"```.*?```|`[^`]*`", " ", text or "", flags=re.S)
    seen: list[str] = []
    for match in MENTION.finditer(text):
        name = match.group(1).lower()
        if name not in seen:
            seen.append(name)
    return seen[:MAX_MENTIONS]


def mentions_notify(
    *, actor, text: str, place, rule: str, title: str, url: str = "", previous_text: str = "", skip=()
) -> None:
    """After commit: notifies each user newly mentioned in ``text`` who may ``rule`` on ``place``.

    ``previous_text``: on an edit, names already mentioned before are not notified again. ``skip``: users
    this event already notifies otherwise (a reply's topic author): one notification per event.
    """
    already = set(mentioned_usernames(previous_text))
    names = [name for name in mentioned_usernames(text) if name not in already]
    if not names:
        return
    skipped = {user.pk for user in skip if user is not None}

    def after_commit():
        from accounts.notifications import notification_send

        for user in _users(names):
            if user.pk == actor.pk or user.pk in skipped or not can(user, rule, place):
                continue
            notification_send(
                user=user,
                kind="mention",
                title=title,
                body=(text or "")[:280],
                url=url,
                data={"by": actor.username},
            )

    transaction.on_commit(after_commit)


def _users(names: list[str]):
    from django.db.models import Q

    query = Q()
    for name in names:
        query |= Q(username__iexact=name)
    return list(get_user_model().objects.filter(query, is_active=True))


def people_notify(*, actor, people, kind: str, title: str, place, rule: str, url: str = "", body: str = "") -> None:
    """After commit: one notification each to ``people`` (the topic's author on a reply, …), never the
    actor, never twice, and only to those who may still ``rule`` on ``place``."""
    recipients = {person.pk: person for person in people if person is not None and person.pk != actor.pk}
    if not recipients:
        return

    def after_commit():
        from accounts.notifications import notification_send

        for user in recipients.values():
            if user.is_active and can(user, rule, place):
                notification_send(user=user, kind=kind, title=title, body=body[:280], url=url, data={"by": actor.username})

    transaction.on_commit(after_commit)
