"""A real Celery worker on Redis: a temporarily refused email is retried and then delivered once.

Needs Redis (the broker) and a database the worker process can share; CI runs it with PostgreSQL and
Redis. Without REDIS_URL (the embedded setup runs tasks eagerly, there is no broker) it is skipped.
"""

import os
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Notification
from accounts.tasks import send_notification_email_task
from agentwise.celery import app as celery_app
from tests import clock
from tests.factories import UserFactory
from tests.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: a real broker (CI sets it)"),
]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    smtp = SmtpServer(fail_first=1)
    smtp.__enter__()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "EMAIL_RETRY_SECONDS": "1",
        "CELERY_QUEUE": queue,
        "DJANGO_SETTINGS_MODULE": "agentwise.settings",
    }
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        clock.command("celery", "--app", "agentwise", "worker", "--pool", "solo", "--queues", queue,
                      "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"),
        cwd=ROOT, env={**env, **clock.clock_env()}, stdout=log, stderr=subprocess.STDOUT,
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield queue, smtp.handler, tmp_path / "worker.log"
    finally:
        celery_app.conf.task_always_eager = previous
        process.terminate()
        process.wait(timeout=20)
        log.close()
        smtp.__exit__(None, None, None)


def test_refused_email_is_retried_by_the_worker_and_delivered_once(worker):
    queue, smtp, log_path = worker
    user = UserFactory(email="budget-owner@example.com")
    notification = Notification.objects.create(user=user, kind="budget_warning", title="80% of your budget is used")

    send_notification_email_task.apply_async(args=[str(notification.pk)], queue=queue)

    messages = smtp.wait(1, timeout=60)
    assert messages, log_path.read_text()[-3000:]
    assert smtp.refused == 1  # the first attempt got "451 try again later"
    assert messages[0]["Subject"] == "80% of your budget is used"
    assert messages[0]["To"] == "budget-owner@example.com"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        notification.refresh_from_db()
        if notification.emailed_at is not None:
            break
        time.sleep(0.1)
    assert notification.emailed_at is not None
    # The worker keeps this process's time (tests/clock.py), even when the run sets AGENTWISE_TEST_CLOCK.
    assert abs(notification.emailed_at - timezone.now()) < timedelta(minutes=1)
    # Running the task again (a duplicate delivery) sends nothing more: the send is claimed once.
    send_notification_email_task.apply_async(args=[str(notification.pk)], queue=queue)
    time.sleep(1.5)
    assert len(smtp.messages) == 1
    assert "retry" in log_path.read_text().lower()
