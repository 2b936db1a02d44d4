"""The one-command cluster (``python -m agentwise.cluster``: 2 web processes behind the devproxy, 2 workers,
beat) driven end to end: API writes land on both web processes, websocket clients on both see every
message, a newsletter campaign is sent by both workers, and at the end PostgreSQL, every client's view
and the SMTP sink agree. Runs on a redis-server of its own; CI runs it with PostgreSQL."""

import asyncio
import json
import time
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from community.models import Channel, Message
from content.models import Campaign, CampaignStatus
from tests.factories import CampaignFactory, SubscriberFactory, UserFactory, make_api_key
from tests.faults.processes import Cluster, RedisServer, http
from tests.live import ws_connect
from tests.smtp import SmtpServer
from tests.worker import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
                       reason="several processes write at once: needs PostgreSQL (CI has it)"),
]

SUBSCRIBERS = 40
WRITERS = 4
WRITES_EACH = 3  # 12 API writes: under the 10 messages / 10 s each user may send


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def cluster(tmp_path, smtp):
    with RedisServer(tmp_path) as redis_server:
        running = Cluster(redis_url=redis_server.url, log_dir=tmp_path, env={
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            "NEWSLETTER_TICK_SECONDS": "1",
            "NEWSLETTER_BATCH_SIZE": "4",
            "NEWSLETTER_CLAIM_CHUNK": "2",
            "CELERY_CONCURRENCY": "1",
        })
        try:
            yield running.start()
        finally:
            running.stop()


async def _collect(ws, want: int, seen: dict, timeout: float = 20) -> None:
    """Reads ``message:new`` frames into ``seen`` (id -> seq) until ``want`` of them arrived."""
    deadline = time.monotonic() + timeout
    while len(seen) < want and (remaining := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        except TimeoutError:
            break
        if frame["type"] == "message:new":
            seen[frame["message"]["id"]] = frame["message"]["seq"]


async def test_cluster_spreads_api_writes_sockets_and_a_campaign_and_ends_consistent(cluster, smtp):
    writers = [await sync_to_async(UserFactory)(username=f"writer{n}") for n in range(WRITERS)]
    keys = [(await sync_to_async(make_api_key)(user, name="api"))[1] for user in writers]
    readers = [await sync_to_async(UserFactory)(username=f"reader{n}") for n in range(3)]
    reader_keys = [(await sync_to_async(make_api_key)(user, name="ws"))[1] for user in readers]
    channel = await sync_to_async(Channel.objects.create)(name="general")
    subscribers = [await sync_to_async(SubscriberFactory)() for _ in range(SUBSCRIBERS)]

    # Sockets on web.1, on web.2 (straight to their ports) and one through the proxy.
    doors = [SimpleNamespace(url=url, ws_url=url.replace("http", "ws") + "/ws/")
             for url in [*cluster.web_urls, cluster.url]]
    sockets = [await ws_connect(door, key) for door, key in zip(doors, reader_keys, strict=True)]
    try:
        for ws in sockets:
            await ws.send(json.dumps({"type": "channel:join", "channel": str(channel.pk)}))
        for ws in sockets:
            while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "presence:sync":
                pass

        # The campaign starts on the beat's next tick and its batches go to whichever worker is free.
        campaign = await sync_to_async(CampaignFactory)(
            status=CampaignStatus.SCHEDULED, scheduled_at=timezone.now() - timedelta(seconds=1)
        )

        served_by = Counter()
        url = f"{cluster.url}/api/community/channels/{channel.pk}/messages/"
        for round_ in range(WRITES_EACH):
            for number, key in enumerate(keys):
                status, headers, body = await asyncio.to_thread(
                    http, "POST", url, key=key, body={"content": f"api {number}.{round_}"}
                )
                assert status == 201, body
                served_by[headers["X-Served-By"]] += 1
        assert set(served_by) == {"web.1", "web.2"}, served_by  # round-robin, no stickiness
        assert served_by["web.1"] == served_by["web.2"] == WRITERS * WRITES_EACH // 2

        for number, ws in enumerate(sockets[:2]):  # one socket write on each process
            await ws.send(json.dumps({"type": "message:send", "channel": str(channel.pk),
                                      "content": f"ws {number}", "client_id": f"c{number}"}))
        total = WRITERS * WRITES_EACH + 2
        views = [{} for _ in sockets]
        await asyncio.gather(*[_collect(ws, total, view) for ws, view in zip(sockets, views, strict=True)])
    finally:
        for ws in sockets:
            await ws.close()

    saved = dict(await sync_to_async(lambda: list(
        Message.objects.filter(channel=channel).values_list("id", "seq")))())
    saved = {str(pk): seq for pk, seq in saved.items()}
    assert sorted(saved.values()) == list(range(1, total + 1))  # gap-free across both processes
    for view in views:
        assert view == saved  # each client, on either process, saw every saved message

    def campaign_sent():
        return Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT

    assert await sync_to_async(wait_for)(campaign_sent, 40), cluster.log()
    await asyncio.sleep(0.5)  # anything sent twice would have arrived by now
    recipients = Counter(rcpt for envelope in smtp.handler.envelopes for rcpt in envelope.rcpt_tos)
    assert recipients == Counter({subscriber.email: 1 for subscriber in subscribers})
    batches = {name: sum("newsletter_batch_task" in line and "succeeded" in line for line in cluster.lines(name))
               for name in ("worker.1", "worker.2")}
    assert batches["worker.1"] > 0 and batches["worker.2"] > 0, batches
