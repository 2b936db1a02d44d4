"""Every kind of notification a user can receive, defined once: its label, how it is delivered by
default, and whether the user may choose. The settings page, the preferences API, the digest and
``notification_send`` all read this registry; a kind missing here cannot be sent."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Delivery(models.TextChoices):
    IN_APP = "in_app", "In-app only"
    DIGEST = "digest", "In-app and the daily email digest"
    # Security and billing notices: emailed the moment they happen, whatever the user chose elsewhere.
    IMMEDIATE = "immediate", "In-app and an email at once"


CHOOSABLE = (Delivery.IN_APP, Delivery.DIGEST)
CHOOSABLE_CHOICES = [(choice.value, choice.label) for choice in CHOOSABLE]
IMMEDIATE_CHOICES = [(Delivery.IMMEDIATE.value, Delivery.IMMEDIATE.label)]


@dataclass(frozen=True)
class NotificationKind:
    key: str
    label: str
    default: Delivery

    @property
    def configurable(self) -> bool:
        """Immediate notices cannot be moved to the digest or muted to in-app: they may be urgent."""
        return self.default != Delivery.IMMEDIATE


KINDS: dict[str, NotificationKind] = {
    kind.key: kind
    for kind in (
        NotificationKind("mention", "Someone mentions you with @username", Delivery.DIGEST),
        NotificationKind("forum_reply", "A reply to your forum topic", Delivery.DIGEST),
        NotificationKind(
            "forum_solution", "A solution is chosen on your topic or your answer", Delivery.DIGEST
        ),
        NotificationKind("reaction", "Reactions to your messages, topics and replies", Delivery.IN_APP),
        NotificationKind("budget_warning", "A budget nears its monthly limit", Delivery.IMMEDIATE),
        NotificationKind("api_key_created", "A new API key is created on your account", Delivery.IMMEDIATE),
        # Content removed, a sanction: the user must learn it and the reason at once (moderation.notify).
        NotificationKind("moderation", "A moderator removes your content or restricts your account", Delivery.IMMEDIATE),
        # A project you work on is gone with its owner's account: nothing to choose, you must know.
        NotificationKind("project_deleted", "A project you collaborate on is deleted with its owner's account", Delivery.IMMEDIATE),
    )
}
CONFIGURABLE_KINDS = [key for key, kind in KINDS.items() if kind.configurable]
