"""A real Celery worker on Redis is killed (SIGKILL) in the middle of a campaign, mid-batch and
mid-message; another worker starts; the SMTP sink then holds exactly one message per active
subscriber. CI runs it with PostgreSQL and Redis; without a broker (the embedded setup) it is skipped.
"""

import asyncio
import signal
import threading
import time
from collections import Counter

import pytest
from django.conf import settings

from content.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, SubscriberStatus
from content.newsletter import sending
from tests.factories import CampaignFactory, SubscriberFactory
from tests.smtp import RecordingHandler, SmtpServer
from tests.worker import new_queue, publishing_to, wait_for, worker_process

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: a real broker (CI sets it)"),
]


class StallingHandler(RecordingHandler):
    """Accepts messages until ``stall_at`` of them arrived; the next one hangs in DATA until released,
    then is refused: the sender dies while the provider holds its message, unaccepted."""

    def __init__(self, stall_at: int):
        super().__init__()
        self.stall_at = stall_at
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if len(self.messages) == self.stall_at and not self.release.is_set():
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)



def test_a_worker_killed_mid_campaign_leaves_nobody_mailed_twice_or_skipped(tmp_path, staff_user):
    active = [SubscriberFactory() for _ in range(60)]
    SubscriberFactory(status=SubscriberStatus.PENDING)
    SubscriberFactory(status=SubscriberStatus.UNSUBSCRIBED)
    campaign = CampaignFactory()
    log_path = tmp_path / "workers.log"
    handler = StallingHandler(stall_at=12)
    with SmtpServer(handler=handler) as smtp, publishing_to(new_queue()) as queue:
        worker_env = {
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            "NEWSLETTER_BATCH_SIZE": "20",
            "NEWSLETTER_CLAIM_CHUNK": "5",
            "NEWSLETTER_CLAIM_SECONDS": "3",
        }
        with worker_process(log_path, queue, **worker_env) as first:
            sending.campaign_start(campaign_id=campaign.pk, actor=staff_user)  # 3 batch tasks on the queue
            assert handler.stalled.wait(60), log_path.read_text()[-3000:]
            first.send_signal(signal.SIGKILL)  # mid-batch, mid-message: 12 accepted, the 13th in flight
            first.wait(timeout=10)
        handler.release.set()
        assert len(handler.messages) == 12
        claimed = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENDING).count()
        assert claimed >= 1  # the dead worker's claim, still held

        # The next worker runs the beat too, as production does: tasks the dead worker held are
        # gone until the broker's visibility timeout (an hour), so the beat restarts the campaign.
        with worker_process(log_path, queue, beat=True, NEWSLETTER_TICK_SECONDS="2", NEWSLETTER_STALL_SECONDS="3", **worker_env):
            finished = wait_for(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT, 90)
            assert finished, log_path.read_text()[-4000:]
            time.sleep(1)  # anything sent twice would have arrived by now

    recipients = Counter(rcpt for envelope in handler.envelopes for rcpt in envelope.rcpt_tos)
    assert recipients == Counter({subscriber.email: 1 for subscriber in active})
    # As an SMTP server receives them: both parts, the unsubscribe headers, one Message-ID per subscriber.
    received = handler.messages[0]
    assert received.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.iter_parts()] == ["text/plain", "text/html"]
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/newsletter/unsubscribe/" in received["List-Unsubscribe"] and "mailto:" in received["List-Unsubscribe"]
    assert len({message["Message-ID"] for message in handler.messages}) == 60
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.failed_count, campaign.total_count) == (60, 0, 60)
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {DeliveryStatus.SENT}
