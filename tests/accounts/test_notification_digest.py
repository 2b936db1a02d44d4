"""The daily digest: at most one email a day per user, through the outbox, holding only unread
notifications of the kinds they put in the digest that no earlier digest (or email) carried."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connection, connections

from accounts.models import Notification, NotificationDigest
from accounts.notifications import notification_digest_send
from accounts.services import notification_preferences_set, notifications_mark_read
from accounts.tasks import notification_digest_task
from agentwise.models import OutboundEmail
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DIGEST = "accounts/email/notification_digest"
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def at(time_machine):
    """Moves the frozen clock: ``at(datetime)``."""

    def move(instant):
        time_machine.move_to(instant, tick=False)

    move(NOON)
    return move


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def _notify(user, title, kind="mention", **fields):
    return Notification.objects.create(user=user, kind=kind, title=title, url="/community/", **fields)


def _digests(user=None):
    emails = OutboundEmail.objects.filter(kind=DIGEST).order_by("created_at", "pk")
    return [e for e in emails if user is None or e.to == [user.email]]


def test_sends_once_even_when_run_twice(alice, at):
    _notify(alice, "@bob mentioned you in #general")
    _notify(alice, "@carol replied to “Deploys”", kind="forum_reply")
    assert notification_digest_task() == 1
    assert notification_digest_task() == 0
    [email] = _digests()
    assert email.to == [alice.email] and email.subject == "Your Agentwise digest: 2 new notifications"
    assert (
        "@bob mentioned you in #general" in email.text_body
        and "@carol replied to “Deploys”" in email.html_body
    )
    assert (
        "/account/notifications/settings/" in email.text_body
        and "/account/notifications/settings/" in email.html_body
    )
    assert not Notification.objects.filter(user=alice, digested_at__isnull=True).exists()
    assert NotificationDigest.objects.get(user=alice).count == 2


def test_only_unread_notifications(alice, at):
    read = _notify(alice, "Already seen")
    _notify(alice, "Still new")
    notifications_mark_read(user=alice, notification_ids=[read.pk])
    notification_digest_task()
    [email] = _digests()
    assert "Still new" in email.text_body and "Already seen" not in email.text_body
    read.refresh_from_db()
    assert read.digested_at is None


def test_only_kinds_put_in_the_digest(alice, at):
    _notify(alice, "A mention")
    _notify(alice, "@bob reacted to your message", kind="reaction")  # in-app only by default
    _notify(alice, "Budget at 80%", kind="budget_warning", emailed_at=NOON)  # emailed at once already
    notification_digest_task()
    [email] = _digests()
    assert "A mention" in email.text_body
    assert "reacted" not in email.text_body and "Budget" not in email.text_body

    bob = UserFactory(username="bob")
    notification_preferences_set(user=bob, choices={"mention": "in_app", "reaction": "digest"})
    _notify(bob, "Mention for bob")
    _notify(bob, "@alice reacted to your reply", kind="reaction")
    notification_digest_task()
    [bobs] = _digests(bob)
    assert "@alice reacted to your reply" in bobs.text_body
    assert "Mention for bob" not in bobs.text_body


def test_nothing_when_all_read_and_a_later_item_still_gets_that_days_digest(alice, at):
    _notify(alice, "Read it")
    notifications_mark_read(user=alice)
    assert notification_digest_task() == 0
    assert _digests() == [] and not NotificationDigest.objects.exists()  # the day is not used up
    at(NOON.replace(hour=15))
    _notify(alice, "Afternoon mention")
    assert notification_digest_task() == 1
    assert "Afternoon mention" in _digests()[0].text_body


def test_the_next_day_sends_new_items_only(alice, at):
    _notify(alice, "Monday's mention")
    notification_digest_task()
    at(NOON.replace(hour=18))
    _notify(alice, "Monday evening mention")
    assert notification_digest_task() == 0  # one a day: it waits for tomorrow
    at(NOON.replace(day=11))
    _notify(alice, "Tuesday's mention")
    assert notification_digest_task() == 1
    monday, tuesday = _digests()
    assert "Tuesday's mention" in tuesday.text_body and "Monday evening mention" in tuesday.text_body
    assert "Monday's mention" not in tuesday.text_body  # still unread, but already in Monday's digest
    assert tuesday.subject == "Your Agentwise digest: 2 new notifications"


def test_the_day_turns_at_the_digest_hour_not_a_minute_early(alice, at, settings):
    settings.NOTIFICATION_DIGEST_HOUR = 0
    at(datetime(2026, 12, 31, 23, 59, 0, tzinfo=UTC))
    _notify(alice, "Last mention of the year")
    assert notification_digest_task() == 1
    at(datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC))
    _notify(alice, "New Year mention")
    assert notification_digest_task() == 0  # 23:59:30 is still the same day
    at(datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC))
    assert notification_digest_task() == 1
    old_year, new_year = _digests()
    assert "New Year mention" in new_year.text_body and "Last mention of the year" not in new_year.text_body
    assert list(NotificationDigest.objects.order_by("day").values_list("day", flat=True)) == [
        datetime(2026, 12, 31).date(),
        datetime(2027, 1, 1).date(),
    ]


def test_with_the_default_hour_the_digest_day_starts_at_seven_utc(alice, at, settings):
    settings.NOTIFICATION_DIGEST_HOUR = 7
    at(datetime(2026, 3, 10, 6, 59, tzinfo=UTC))
    _notify(alice, "Early")
    assert notification_digest_task() == 1  # still the digest day that began yesterday at 07:00
    _notify(alice, "Later")
    at(datetime(2026, 3, 10, 6, 59, 59, tzinfo=UTC))
    assert notification_digest_task() == 0
    at(datetime(2026, 3, 10, 7, 0, tzinfo=UTC))
    assert notification_digest_task() == 1


def test_unverified_and_inactive_users_get_none(at):
    unverified = UserFactory(verified=False)
    other_address = UserFactory()
    EmailAddress.objects.filter(user=other_address).update(
        email="old@example.com"
    )  # verified, but not the current one
    inactive = UserFactory(is_active=False)
    for user in (unverified, other_address, inactive):
        _notify(user, "Hello")
    assert notification_digest_task() == 0
    assert _digests() == []
    assert notification_digest_send(user=unverified) == 0


def test_old_unread_notifications_stay_out(alice, at):
    _notify(alice, "Ancient", created_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert notification_digest_task() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="races need concurrent writers (PostgreSQL; CI runs it)"
)
def test_two_workers_at_once_send_one_digest(reference_data):
    alice = UserFactory(username="alice")
    for index in range(3):
        _notify(alice, f"Mention {index}")
    barrier = threading.Barrier(6)

    def worker(_):
        try:
            barrier.wait(timeout=10)
            return notification_digest_task()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(6) as pool:
        sent = list(pool.map(worker, range(6)))
    assert sorted(sent) == [0, 0, 0, 0, 0, 1]
    [sent_email] = [
        m for m in mail.outbox if m.subject.startswith("Your Agentwise digest")
    ]  # sent after commit
    assert sent_email.to == [alice.email] and all(f"Mention {index}" in sent_email.body for index in range(3))
    assert len(_digests()) == 1 and NotificationDigest.objects.get(user=alice).count == 3
