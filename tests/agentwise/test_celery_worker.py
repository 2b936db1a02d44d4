"""A real Celery worker on Redis: a temporarily refused email is retried and then delivered once.

Needs Redis (the broker) and a database the worker process can share; CI runs it with PostgreSQL and
Redis. Without REDIS_URL (the embedded setup runs tasks eagerly, there is no broker) it is skipped.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Notification
from accounts.notifications import notification_send
from agentwise.models import OutboundEmail, OutboundEmailStatus
from agentwise.tasks import send_email_task
from tests.factories import UserFactory
from tests.smtp import SmtpServer
from tests.worker import celery_worker, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: a real broker (CI sets it)"),
]



def test_refused_email_is_retried_by_the_worker_and_delivered_once(tmp_path):
    log_path = tmp_path / "worker.log"
    with SmtpServer(fail_first=1) as smtp, celery_worker(
        log_path, EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}", EMAIL_RETRY_SECONDS="1"
    ):
        user = UserFactory(email="budget-owner@example.com")
        notification = notification_send(user=user, kind="budget_warning", title="80% of your budget is used", email=True)

        messages = smtp.handler.wait(1, timeout=60)
        assert messages, log_path.read_text()[-3000:]
        assert smtp.handler.refused == 1  # the first attempt got "451 try again later"
        assert messages[0]["Subject"] == "80% of your budget is used"
        assert messages[0]["To"] == "budget-owner@example.com"
        outbound = OutboundEmail.objects.get(kind="accounts/email/notification")
        assert wait_for(lambda: OutboundEmail.objects.get(pk=outbound.pk).status == OutboundEmailStatus.SENT, 10)
        assert OutboundEmail.objects.get(pk=outbound.pk).attempts == 2
        assert Notification.objects.get(pk=notification.pk).emailed_at is not None
        # The worker keeps this process's time (tests/clock.py), even when the run sets AGENTWISE_TEST_CLOCK.
        assert abs(OutboundEmail.objects.get(pk=outbound.pk).sent_at - timezone.now()) < timedelta(minutes=1)
        # Running the task again (a duplicate delivery) sends nothing more: the send is claimed once.
        send_email_task.delay(outbound.pk)
        assert wait_for(lambda: "'not_claimed'" in log_path.read_text(), 20), log_path.read_text()[-3000:]
        assert len(smtp.handler.messages) == 1
        assert "retrying" in log_path.read_text().lower()
