"""The email outbox: a provider outage delays mail but never loses it, and never fails the request.

Most tests run tasks eagerly (the suite's default) and drive time through the services' ``now``. The
last test is the issue's proof with a real worker on Redis and a real SMTP server that starts late.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.notifications import notification_send
from accounts.tasks import send_notification_email_task
from agentwise import mail as outbox
from agentwise.mail import SendOutcome, email_enqueue, email_requeue_stale, email_send
from agentwise.models import OutboundEmail, OutboundEmailStatus
from agentwise.tasks import send_email_task
from projects.models import Project
from projects.services import collaborator_invite
from tests.factories import TEST_PASSWORD, StaffFactory, UserFactory
from tests.smtp import SmtpServer, free_port
from tests.worker import celery_worker, wait_for

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
SIGNUP = {"email": "new@example.com", "username": "newbie", "password1": TEST_PASSWORD, "password2": TEST_PASSWORD}


@pytest.fixture
def provider_down(settings):
    """SMTP pointed at a port where nothing listens: every send fails with ConnectionRefusedError."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def superuser_client(client, db):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def _message(subject="Hello from Agentwise", to=("someone@example.com",)) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(subject=subject, body="Plain text.", to=list(to))
    message.attach_alternative("<p>HTML.</p>", "text/html")
    return message


def _row(**fields) -> OutboundEmail:
    values = {"kind": "test", "from_email": "hello@agentwise.test", "to": ["someone@example.com"], "text_body": "Hi."}
    return OutboundEmail.objects.create(**(values | fields))


# --- Requests never fail ---------------------------------------------------------------------


@pytest.mark.django_db
def test_signup_while_the_provider_is_down_redirects_and_keeps_the_email_queued(
    client, provider_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), SIGNUP)

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    outbound = OutboundEmail.objects.get()
    assert outbound.kind == "account/email/email_confirmation_signup"
    assert outbound.to == ["new@example.com"]
    assert outbound.subject == "Welcome to Agentwise!"
    assert outbound.status == OutboundEmailStatus.QUEUED
    assert outbound.attempts == 1
    assert outbound.last_error.startswith("ConnectionRefusedError")
    assert outbound.next_attempt_at > timezone.now()  # backing off, not retrying in a loop


@pytest.mark.django_db
def test_signup_with_the_broker_unreachable_succeeds_and_the_sweeper_sends_later(
    client, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_email_task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), SIGNUP)

    assert response.status_code == 302
    outbound = OutboundEmail.objects.get()
    assert (outbound.status, outbound.attempts) == (OutboundEmailStatus.QUEUED, 0)
    assert f"Could not hand email {outbound.pk} to the worker" in caplog.text
    assert mail.outbox == []

    monkeypatch.undo()  # the broker is back; a minute later the beat's sweeper runs
    assert email_requeue_stale(now=outbound.created_at + timedelta(minutes=2)) == 1
    assert [m.subject for m in mail.outbox] == ["Welcome to Agentwise!"]


@pytest.mark.django_db
def test_an_invitation_while_the_provider_is_down_is_made_and_its_email_queued(
    provider_down, django_capture_on_commit_callbacks
):
    owner, invitee = UserFactory(), UserFactory(email="friend@example.com")
    project = Project.objects.create(user=owner, name="Apollo")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = collaborator_invite(actor=owner, project=project, invitee=invitee, role="editor")

    assert invitation.pk is not None
    outbound = OutboundEmail.objects.get(kind="projects/email/invitation")
    assert outbound.to == ["friend@example.com"]
    assert (outbound.status, outbound.attempts) == (OutboundEmailStatus.QUEUED, 1)


# --- Delivery: once, after commit, with back-off ---------------------------------------------


@pytest.mark.django_db
def test_a_retry_after_the_provider_recovers_sends_exactly_once(
    provider_down, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outbound = email_enqueue(_message(subject="Your receipt"), kind="test")
    outbound.refresh_from_db()
    assert (outbound.status, outbound.attempts) == (OutboundEmailStatus.QUEUED, 1)
    error = outbound.last_error

    settings.EMAIL_BACKEND = LOCMEM  # the provider is back
    assert email_send(outbound_id=outbound.pk) == SendOutcome.NOT_CLAIMED  # not before its back-off is over
    due = outbound.next_attempt_at
    assert email_send(outbound_id=outbound.pk, now=due) == SendOutcome.SENT
    assert email_send(outbound_id=outbound.pk, now=due + timedelta(hours=2)) == SendOutcome.NOT_CLAIMED
    assert email_requeue_stale(now=due + timedelta(hours=2)) == 0

    [sent] = mail.outbox
    assert (sent.subject, sent.to, sent.body) == ("Your receipt", ["someone@example.com"], "Plain text.")
    assert sent.alternatives == [("<p>HTML.</p>", "text/html")]
    outbound.refresh_from_db()
    assert (outbound.status, outbound.attempts) == (OutboundEmailStatus.SENT, 2)
    assert outbound.sent_at is not None and outbound.next_attempt_at is None
    assert outbound.last_error == error  # kept for ops: why it was late
    assert (outbound.text_body, outbound.html_body) == ("", "")  # links in it must not outlive delivery


@pytest.mark.django_db
def test_nothing_is_queued_or_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            email_enqueue(_message(), kind="test")
            raise RuntimeError("the sign-up failed after rendering its email")

    assert callbacks == []
    assert not OutboundEmail.objects.exists()
    assert mail.outbox == []


class SlowBackend(BaseEmailBackend):
    """Holds each send for a moment, so a second worker's claim lands while the first is sending."""

    sent: list = []

    def send_messages(self, email_messages):
        time.sleep(0.3)
        SlowBackend.sent.extend(email_messages)
        return len(email_messages)


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_email_at_once_send_it_once(settings):
    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    SlowBackend.sent = []
    outbound = _row(subject="Only once")
    barrier = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(email_send(outbound_id=outbound.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == [SendOutcome.NOT_CLAIMED, SendOutcome.SENT]
    assert [m.subject for m in SlowBackend.sent] == ["Only once"]
    assert OutboundEmail.objects.get(pk=outbound.pk).attempts == 1


@pytest.mark.django_db
def test_the_sweeper_sends_rows_whose_task_was_lost_or_whose_worker_died():
    now = timezone.now()
    lost = _row(subject="task lost", next_attempt_at=now - timedelta(minutes=10))
    orphan = _row(
        subject="worker died", status=OutboundEmailStatus.SENDING, attempts=1, next_attempt_at=now - timedelta(minutes=5)
    )
    _row(subject="backing off", attempts=1, next_attempt_at=now + timedelta(minutes=10))
    _row(subject="just queued, its task is on the way", next_attempt_at=now)
    _row(subject="being sent", status=OutboundEmailStatus.SENDING, attempts=1, next_attempt_at=now + timedelta(minutes=9))
    _row(subject="done", status=OutboundEmailStatus.SENT, next_attempt_at=None, sent_at=now)
    _row(subject="gave up", status=OutboundEmailStatus.FAILED, attempts=40, next_attempt_at=None)

    assert email_requeue_stale() == 2

    assert sorted(m.subject for m in mail.outbox) == ["task lost", "worker died"]
    assert OutboundEmail.objects.get(pk=lost.pk).status == OutboundEmailStatus.SENT
    assert OutboundEmail.objects.get(pk=orphan.pk).attempts == 2
    assert email_requeue_stale() == 0  # safe to run twice
    assert len(mail.outbox) == 2


@pytest.mark.parametrize("attempt, low, high", [(1, 30, 60), (2, 60, 120), (4, 240, 480), (7, 1800, 3600), (30, 1800, 3600)])
def test_back_off_doubles_from_the_setting_up_to_the_cap_with_jitter(settings, attempt, low, high):
    settings.EMAIL_RETRY_SECONDS, settings.EMAIL_RETRY_MAX_SECONDS = 60, 3600
    delays = [outbox.retry_delay_seconds(attempt) for _ in range(50)]
    assert all(low <= delay <= high for delay in delays)
    assert len(set(delays)) > 1  # jittered: waiting emails do not all return in the same second


@pytest.mark.django_db
def test_an_email_failing_every_attempt_ends_failed_and_retry_now_in_the_admin_sends_it(
    provider_down, settings, superuser_client, caplog, django_capture_on_commit_callbacks
):
    settings.EMAIL_MAX_ATTEMPTS = 2
    with django_capture_on_commit_callbacks(execute=True):
        outbound = email_enqueue(_message(subject="Your invoice"), kind="test")
    outbound.refresh_from_db()
    assert email_send(outbound_id=outbound.pk, now=outbound.next_attempt_at) == SendOutcome.FAILED
    outbound.refresh_from_db()
    assert (outbound.status, outbound.attempts, outbound.next_attempt_at) == (OutboundEmailStatus.FAILED, 2, None)
    assert f"Email {outbound.pk} (test) failed for good after 2 attempts" in caplog.text
    later = timezone.now() + timedelta(days=1)
    assert email_send(outbound_id=outbound.pk, now=later) == SendOutcome.NOT_CLAIMED
    assert email_requeue_stale(now=later) == 0  # a failed email waits for a person

    settings.EMAIL_BACKEND = LOCMEM
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(
            reverse("admin:agentwise_outboundemail_changelist"),
            {"action": "retry_now", "_selected_action": [outbound.pk]},
            follow=True,
        )

    assert "Queued 1 email(s) to send now." in response.content.decode()
    assert [m.subject for m in mail.outbox] == ["Your invoice"]
    outbound.refresh_from_db()
    assert (outbound.status, outbound.attempts) == (OutboundEmailStatus.SENT, 1)


# --- What goes through it --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_notification_email_is_queued_with_the_notification_and_only_once(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = notification_send(user=user, kind="budget_warning", title="80% of the budget is used", email=True)
        send_notification_email_task.delay(str(notification.pk))  # one queued before the outbox existed

    assert OutboundEmail.objects.filter(kind="accounts/email/notification").count() == 1
    assert [(m.subject, m.to) for m in mail.outbox] == [("80% of the budget is used", [user.email])]
    notification.refresh_from_db()
    assert notification.emailed_at is not None


@pytest.mark.django_db
def test_the_outbox_delivers_a_message_as_it_was_rendered(django_capture_on_commit_callbacks):
    message = EmailMessage(
        "HTML only",
        "<p>Hi</p>",
        "Ops <ops@agentwise.test>",
        ["a@example.com"],
        bcc=["audit@example.com"],
        cc=["b@example.com"],
        reply_to=["support@agentwise.test"],
        headers={"X-Agentwise-Kind": "test"},
    )
    message.content_subtype = "html"
    with django_capture_on_commit_callbacks(execute=True):
        email_enqueue(message, kind="test")

    [sent] = mail.outbox
    assert (sent.content_subtype, sent.body, sent.from_email) == ("html", "<p>Hi</p>", "Ops <ops@agentwise.test>")
    assert (sent.to, sent.cc, sent.bcc, sent.reply_to) == (
        ["a@example.com"], ["b@example.com"], ["audit@example.com"], ["support@agentwise.test"]
    )
    assert sent.extra_headers == {"X-Agentwise-Kind": "test"}


@pytest.mark.django_db
def test_the_providers_message_id_is_kept_when_anymail_gives_one(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"  # its id is the message's index in mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        outbound = email_enqueue(_message(), kind="test")
    outbound.refresh_from_db()
    assert (outbound.status, outbound.provider_message_id) == (OutboundEmailStatus.SENT, "0")


@pytest.mark.django_db
def test_an_attachment_is_refused_at_enqueue_rather_than_dropped():
    message = _message()
    message.attach("report.csv", "a,b\n", "text/csv")
    with pytest.raises(ValueError, match="attachments"):
        email_enqueue(message, kind="test")
    assert not OutboundEmail.objects.exists()


# --- Admin -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_finds_emails_by_recipient_without_showing_their_bodies(superuser_client):
    outbound = _row(
        subject="Reset your Agentwise password", to=["forgetful@example.com"], text_body="https://x/reset/SECRET-KEY/"
    )
    _row(subject="Welcome to Agentwise!", to=["other@example.com"])
    changelist = reverse("admin:agentwise_outboundemail_changelist")

    found = superuser_client.get(changelist, {"q": "forgetful@"}).content.decode()
    assert "Reset your Agentwise password" in found and "Welcome to Agentwise!" not in found
    page = superuser_client.get(reverse("admin:agentwise_outboundemail_change", args=[outbound.pk]))
    assert page.status_code == 200
    assert "forgetful@example.com" in page.content.decode() and "SECRET-KEY" not in page.content.decode()
    assert superuser_client.get(reverse("admin:agentwise_outboundemail_add")).status_code == 403
    assert superuser_client.get(reverse("admin:agentwise_outboundemail_delete", args=[outbound.pk])).status_code == 403


@pytest.mark.django_db
def test_staff_who_may_only_view_emails_are_not_offered_retry(client):
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_outboundemail"))
    client.force_login(staff)
    response = client.get(reverse("admin:agentwise_outboundemail_changelist"))
    assert response.status_code == 200
    assert 'value="retry_now"' not in response.content.decode()


# --- The proof: a real worker, SMTP down at sign-up and up a few seconds later ----------



@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL: a real broker (CI sets it)")
def test_signup_while_smtp_is_down_gets_exactly_one_welcome_email_once_smtp_is_up(
    client, settings, tmp_path, reference_data
):
    port = free_port()  # nothing listens here until the SMTP server starts below
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_RETRY_SECONDS, settings.EMAIL_RETRY_MAX_SECONDS = 1, 4
    log_path = tmp_path / "worker.log"
    worker_env = {"EMAIL_URL": f"smtp://127.0.0.1:{port}", "EMAIL_RETRY_SECONDS": "1", "EMAIL_RETRY_MAX_SECONDS": "4"}

    def worker_log() -> str:
        return log_path.read_text()[-3000:]

    with celery_worker(log_path, **worker_env):
        response = client.post(reverse("account_signup"), SIGNUP)

        assert response.status_code == 302
        assert response.url == reverse("account_email_verification_sent")
        outbound = OutboundEmail.objects.get()

        def refused_once() -> bool:
            outbound.refresh_from_db()
            return outbound.attempts >= 1 and outbound.status == OutboundEmailStatus.QUEUED

        assert wait_for(refused_once, timeout=60), worker_log()  # the worker tried, SMTP refused
        assert outbound.last_error.startswith("ConnectionRefusedError")
        time.sleep(2)  # SMTP comes back a few seconds later

        with SmtpServer(port=port) as smtp:
            messages = smtp.handler.wait(1, timeout=60)
            assert messages, worker_log()
            assert wait_for(lambda: OutboundEmail.objects.get(pk=outbound.pk).status == OutboundEmailStatus.SENT, 10)
            send_email_task.delay(outbound.pk)  # a duplicate task, as after a redelivery: sends nothing
            assert wait_for(lambda: "'not_claimed'" in log_path.read_text(), 20), worker_log()
            time.sleep(2)

            [welcome] = smtp.handler.messages
            assert welcome["Subject"] == "Welcome to Agentwise!"
            assert welcome["To"] == "new@example.com"
            assert "/account/confirm-email/" in welcome.get_body(preferencelist=("plain",)).get_content()
            outbound.refresh_from_db()
            assert outbound.attempts >= 2
