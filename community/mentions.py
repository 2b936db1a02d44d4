"""Who hears about what in the community: ``@username`` mentions in chat messages, forum topics and
replies, the forum's own events (a reply to your topic, a solution chosen), and reactions to your
content (grouped).

Every community notification passes ``_recipients``, the one place that decides who may hear of an
event: never the actor themself, only active users, only those who may still see the place (a private
channel's text never reaches a non-member through a notification), and nobody who muted the actor.
A mention notifies once per user per message however often the name is repeated. Notifications are
created after the write commits.
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


def _recipients(*, actor, people, place, rule: str) -> list:
    """Of ``people``, who may be told about ``actor``'s event on ``place``: each once, never the actor,
    only active users who may ``rule`` on ``place``, and none who muted the actor. Call after commit."""
    from accounts.selectors import muter_ids

    candidates = {person.pk: person for person in people if person is not None and person.pk != actor.pk}
    if not candidates:
        return []
    muting = muter_ids(actor=actor, among=candidates)
    return [
        user for pk, user in candidates.items() if pk not in muting and user.is_active and can(user, rule, place)
    ]


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

        named = [user for user in _users(names) if user.pk not in skipped]
        for user in _recipients(actor=actor, people=named, place=place, rule=rule):
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
    """After commit: one notification each to ``people`` (the topic's author on a reply, …) who pass
    ``_recipients``."""
    people = [person for person in people if person is not None and person.pk != actor.pk]
    if not people:
        return

    def after_commit():
        from accounts.notifications import notification_send

        for user in _recipients(actor=actor, people=people, place=place, rule=rule):
            notification_send(user=user, kind=kind, title=title, body=body[:280], url=url, data={"by": actor.username})

    transaction.on_commit(after_commit)


def reaction_notify(*, actor, author, target: str, place, rule: str, subject: str, url: str = "", body: str = "") -> None:
    """After commit: tells ``author`` that ``actor`` reacted to their content, grouped per ``target``
    ("message:<id>", "forumpost:<id>", "forumreply:<id>"): one unread notification per target names the reactors
    ("@alice and 2 others reacted to your reply …"). Call only when a reaction was added, not removed."""
    if author is None or author.pk == actor.pk:
        return

    def after_commit():
        from accounts.notifications import notification_group_add

        for user in _recipients(actor=actor, people=[author], place=place, rule=rule):
            notification_group_add(
                user=user, kind="reaction", group_key=f"reaction:{target}", by=actor.username, subject=subject,
                body=(body or "")[:280], url=url, data={"target": target},
            )

    transaction.on_commit(after_commit)
