"""A Celery worker killed (SIGKILL) mid-task; another worker's run then does the work, once.

- Mid digest send: the email is stuck in the provider's DATA phase when its worker dies. Another worker,
  later, runs the digest again (it finds the day already claimed: no second digest) and the outbox sweeper
  hands the dead worker's row over once its claim expires: the SMTP sink then holds exactly one digest.
- Mid purge: the worker dies inside the purge's transaction (the test holds a row lock it waits on);
  nothing of it commits, and the next run purges the project.

The newsletter's own kill test is tests/content/test_newsletter_worker.py; docs/deployment.md lists which
test proves which task is safe to run twice."""

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Notification, NotificationDigest
from accounts.tasks import notification_digest_task
from agentwise import mail
from agentwise.models import OutboundEmail, OutboundEmailStatus
from agentwise.tasks import requeue_stale_emails_task
from projects import services as project_services
from projects.models import Project
from projects.tasks import purge_deleted_projects_task
from tests.factories import StaffFactory, UserFactory
from tests.smtp import RecordingHandler, SmtpServer
from tests.worker import new_queue, publishing_to, wait_for, worker_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="two processes share the database: needs PostgreSQL"),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: a real broker (CI sets it)"),
]

DIGEST = "accounts/email/notification_digest"


class StallFirstHandler(RecordingHandler):
    """The first message hangs in DATA until released, then is refused: its sender dies holding it."""

    def __init__(self):
        super().__init__()
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if not self.stalled.is_set():
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


def test_a_worker_killed_mid_digest_send_leaves_exactly_one_digest_sent(tmp_path):
    alice = UserFactory(username="alice")
    Notification.objects.create(user=alice, kind="mention", title="@bob mentioned you in #general", url="/community/")
    handler = StallFirstHandler()
    log_path = tmp_path / "workers.log"
    # The digest day starts half a day away, so the later worker's clock stays in the same day.
    env = {"NOTIFICATION_DIGEST_HOUR": str((datetime.now(UTC).hour + 12) % 24)}
    with SmtpServer(handler=handler) as smtp, publishing_to(new_queue()) as queue:
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp.port}"
        with worker_process(log_path, queue, **env) as first:
            notification_digest_task.delay()  # the beat's hourly run
            assert handler.stalled.wait(60), log_path.read_text()[-3000:]
            first.kill()  # SIGKILL mid-send: the provider holds the message, unaccepted
            first.wait(timeout=10)
        handler.release.set()
        outbound = OutboundEmail.objects.get(kind=DIGEST)
        assert outbound.status == OutboundEmailStatus.SENDING  # the dead worker's claim, still held
        assert NotificationDigest.objects.filter(user=alice).count() == 1

        # Later (past the claim), another worker: the beat runs the digest again and the sweeper its round.
        later = timedelta(seconds=mail.CLAIM_SECONDS + 60)
        with worker_process(log_path, queue, clock_ahead=later, **env):
            notification_digest_task.delay()
            requeue_stale_emails_task.delay()
            sent = wait_for(lambda: OutboundEmail.objects.get(pk=outbound.pk).status == OutboundEmailStatus.SENT, 60)
            assert sent, log_path.read_text()[-4000:]
            assert wait_for(lambda: log_path.read_text().count("notification_digest_task") >= 4, 20)  # ran twice
    assert [envelope.rcpt_tos for envelope in handler.envelopes] == [[alice.email]]
    assert handler.messages[0]["Subject"].startswith("Your Agentwise digest")
    assert NotificationDigest.objects.filter(user=alice).count() == 1
    assert OutboundEmail.objects.filter(kind=DIGEST).count() == 1
    assert OutboundEmail.objects.get(pk=outbound.pk).attempts == 2


WORKER_APP_NAME = "faults-worker"  # libpq's application_name: the worker's backends, told from the test's own


@contextlib.contextmanager
def _row_locked(model, pk):
    """Another connection holds ``model``'s row ``pk`` FOR UPDATE until the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                model.objects.select_for_update().get(pk=pk)
                locked.set()
                release.wait(60)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def _worker_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                       [WORKER_APP_NAME])
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_mid_purge_leaves_it_to_the_next_run(tmp_path):
    owner = StaffFactory()
    project = project_services.project_create(actor=owner, data={"name": "Old"})
    project_services.project_delete(actor=owner, project=project)
    Project.objects.filter(pk=project.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    log_path = tmp_path / "workers.log"

    with publishing_to(new_queue()) as queue:
        with _row_locked(Project, project.pk), worker_process(log_path, queue, PGAPPNAME=WORKER_APP_NAME) as first:
            purge_deleted_projects_task.delay()
            assert wait_for(_worker_waits_on_a_lock, 60), log_path.read_text()[-3000:]
            first.kill()  # SIGKILL inside the purge's transaction
            first.wait(timeout=10)
        time.sleep(0.5)  # the dead worker's backend, let go by the lock, finds its client gone and rolls back
        assert Project.objects.filter(pk=project.pk).exists()  # nothing of the dead run committed

        with worker_process(log_path, queue):
            deadline = time.monotonic() + 60
            while Project.objects.filter(pk=project.pk).exists() and time.monotonic() < deadline:
                purge_deleted_projects_task.delay()  # as the beat would (every 6 h; every second here)
                time.sleep(1)
            assert not Project.objects.filter(pk=project.pk).exists(), log_path.read_text()[-4000:]
