"""Sending in-app notifications: saved with their email (in the outbox), pushed only after the commit;
grouped notifications (reactions) that grow instead of piling up; and the daily email digest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from allauth.account.models import EmailAddress
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from agentwise.mail import email_enqueue, templated_email

from .events import user_group_name
from .models import Notification, NotificationDigest, User
from .notification_kinds import CONFIGURABLE_KINDS, KINDS
from .selectors import notification_digest_kinds

# A grouped notification keeps this many names (newest first) to tell repeat reactors apart.
MAX_GROUP_NAMES = 50
# The digest lists at most this many items; the rest are counted ("and 12 more") and marked as sent too.
DIGEST_MAX_ITEMS = 30
# Older unread notifications are left out of the digest: a first digest is not a year of backlog.
DIGEST_LOOKBACK = timedelta(days=7)


def _kind_check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}: add it to accounts.notification_kinds.KINDS.")


def _push_after_commit(notification: Notification) -> None:
    """Sends the live ``notification`` frame once the transaction commits (an update carries the same id)."""

    def push():
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(
                user_group_name(notification.user_id),
                {"type": "notification", "payload": {"notification": notification.as_event()}},
            )

    transaction.on_commit(push)


@transaction.atomic
def notification_send(
    *,
    user: User,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    data: dict | None = None,
    email: bool = False,
) -> Notification:
    _kind_check(kind)
    notification = Notification.objects.create(
        user=user, kind=kind, title=title, body=body, url=url, data=data or {}
    )
    if email:
        notification_email_enqueue(notification=notification)
    _push_after_commit(notification)
    return notification


def _grouped_title(names: list[str], count: int, subject: str) -> str:
    if count == 1:
        who = f"@{names[0]}"
    elif count == 2 and len(names) >= 2:
        who = f"@{names[0]} and @{names[1]}"
    else:
        others = count - 1
        who = f"@{names[0]} and {others} other{'s' if others != 1 else ''}"
    return f"{who} {subject}"[:200]


@transaction.atomic
def notification_group_add(
    *,
    user: User,
    kind: str,
    group_key: str,
    by: str,
    subject: str,
    body: str = "",
    url: str = "",
    data: dict | None = None,
) -> Notification | None:
    """Adds ``by`` to the user's one unread notification for ``group_key`` ("@alice and 2 others reacted
    to …"), or starts one. Once that notification is read, the next event starts a new one.

    The unread row is locked while it changes, and a unique partial index (one unread notification per
    user and group) turns a concurrent first insert into an update of the winner's row, so two
    simultaneous reactions never make two notifications. Returns None when ``by`` is already named
    (nothing new to say); otherwise the notification, pushed live again with a fresh ``created_at``.
    An update clears ``digested_at``: the new names have not been in a digest yet.
    """
    _kind_check(kind)
    now = timezone.now()
    extra = data or {}
    for _attempt in range(3):
        current = (
            Notification.objects.select_for_update()
            .filter(user=user, group_key=group_key, read_at__isnull=True)
            .first()
        )
        if current is None:
            try:
                with transaction.atomic():
                    notification = Notification.objects.create(
                        user=user,
                        kind=kind,
                        group_key=group_key,
                        title=_grouped_title([by], 1, subject),
                        body=body,
                        url=url,
                        created_at=now,
                        data={**extra, "by": by, "names": [by], "count": 1},
                    )
            except IntegrityError:
                continue  # a concurrent event started the group: join it
            _push_after_commit(notification)
            return notification
        names = list(current.data.get("names") or [])
        if by in names:
            return None
        count = int(current.data.get("count") or len(names)) + 1
        names = [by, *names][:MAX_GROUP_NAMES]
        current.data = {**current.data, **extra, "by": by, "names": names, "count": count}
        current.title = _grouped_title(names, count, subject)
        current.body, current.url = body or current.body, url or current.url
        current.created_at, current.digested_at = now, None
        current.save(update_fields=["data", "title", "body", "url", "created_at", "digested_at"])
        _push_after_commit(current)
        return current
    raise RuntimeError("The grouped notification kept changing under us.")  # pragma: no cover


@transaction.atomic
def notification_email_enqueue(*, notification: Notification) -> bool:
    """Queues a notification's email once: ``emailed_at`` is claimed in the same transaction as the outbox
    row, so it means "handed to the outbox" (delivery is tracked there). False if it already was."""
    claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    context = {"notification": notification, "user": notification.user, "site_url": settings.SITE_URL}
    message = templated_email(
        subject=notification.title,
        template="accounts/email/notification",
        context=context,
        to=[notification.user.email],
    )
    email_enqueue(message, kind="accounts/email/notification")
    return True


# --- The daily digest --------------------------------------------------------------------------------


def digest_day(now: datetime) -> date:
    """The digest day ``now`` falls in. A digest day starts at ``NOTIFICATION_DIGEST_HOUR`` (UTC), so the
    first run after that hour sends the day's digests, and a user gets at most one per digest day."""
    return (now.astimezone(UTC) - timedelta(hours=settings.NOTIFICATION_DIGEST_HOUR)).date()


def _pending(user: User, *, kinds, now: datetime):
    """Unread notifications of ``kinds`` not yet emailed on their own nor in a digest."""
    return Notification.objects.filter(
        user=user,
        kind__in=kinds,
        read_at__isnull=True,
        digested_at__isnull=True,
        emailed_at__isnull=True,
        created_at__gt=now - DIGEST_LOOKBACK,
        created_at__lte=now,
    )


def notification_digest_send(*, user: User, now: datetime | None = None) -> int:
    """Emails ``user`` today's digest if they have something for it; returns how many notifications it
    holds (0: nothing sent). Safe to call any number of times, from any number of workers at once.

    The ``NotificationDigest(user, day)`` row is inserted first: a concurrent caller waits on the unique
    index and then fails to claim the day. An attempt that finds nothing to send rolls its claim back, so
    a notification arriving later that day still gets a digest. The items are locked and marked
    ``digested_at`` in the same transaction as the outbox row, so no item is listed twice.
    """
    now = now or timezone.now()
    if (
        not user.is_active
        or not EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
    ):
        return 0
    kinds = notification_digest_kinds(user=user)
    if not kinds:
        return 0
    with transaction.atomic():
        try:
            with transaction.atomic():
                digest = NotificationDigest.objects.create(user=user, day=digest_day(now), sent_at=now)
        except IntegrityError:
            return 0  # already sent for this day (or being sent right now)
        items = list(_pending(user, kinds=kinds, now=now).select_for_update().order_by("-created_at"))
        if not items:
            transaction.set_rollback(True)
            return 0
        Notification.objects.filter(pk__in=[item.pk for item in items]).update(digested_at=now)
        digest.count = len(items)
        digest.save(update_fields=["count"])
        context = {
            "user": user,
            "items": items[:DIGEST_MAX_ITEMS],
            "more": max(0, len(items) - DIGEST_MAX_ITEMS),
            "count": len(items),
            "site_url": settings.SITE_URL,
            "notifications_url": settings.SITE_URL + reverse("notifications"),
            "settings_url": settings.SITE_URL + reverse("account_notification_settings"),
        }
        subject = f"Your Agentwise digest: {len(items)} new notification{'s' if len(items) != 1 else ''}"
        message = templated_email(
            subject=subject, template="accounts/email/notification_digest", context=context, to=[user.email]
        )
        email_enqueue(message, kind="accounts/email/notification_digest")
    return len(items)


def notification_digests_send(*, now: datetime | None = None) -> int:
    """The beat task's work: a digest for every active user with something pending in a kind anyone can
    put in the digest and no digest yet this day. Returns how many digests went out."""
    now = now or timezone.now()
    candidates = (
        User.objects.filter(
            is_active=True,
            notifications__kind__in=CONFIGURABLE_KINDS,
            notifications__read_at__isnull=True,
            notifications__digested_at__isnull=True,
            notifications__emailed_at__isnull=True,
            notifications__created_at__gt=now - DIGEST_LOOKBACK,
        )
        .exclude(notification_digests__day=digest_day(now))
        .distinct()
        .order_by("pk")
    )
    return sum(1 for user in candidates.iterator() if notification_digest_send(user=user, now=now))
