"""Presence under load: diff windows that grow with the channel, and bursts that wait for Redis."""

import asyncio
import uuid

import pytest

from community.presence import PRESENCE_DIFF_DELIVERIES, PresenceAnnouncer, presence_store


async def test_a_big_channel_batches_its_presence_diffs_longer(settings):
    """Each diff goes to every member: at 0.25 s windows a join storm into 500 members cost each process
    2,000 deliveries a second. The window grows with the users present at the last flush."""
    settings.PRESENCE_DIFF_BATCH_SECONDS = 0.25
    published = []

    async def publish(channel_id, payload):
        published.append(payload)

    store, channel_id = presence_store(), f"load-{uuid.uuid4().hex}"
    announcer = PresenceAnnouncer(publish)
    assert announcer.window(channel_id) == 0.25  # nothing known yet: the configured window
    users = [str(uuid.uuid4()) for _ in range(3)]
    for user_id in users:
        await store.join(channel_id, user_id, "c1", {"id": user_id})
        announcer.joined(channel_id, {"id": user_id})
    await announcer.flush(channel_id)
    assert [sorted(u["id"] for u in p["joined"]) for p in published] == [sorted(users)]
    assert announcer.window(channel_id) == 0.25  # 3 users: the configured window still

    announcer.present[channel_id] = 4 * PRESENCE_DIFF_DELIVERIES
    assert announcer.window(channel_id) == pytest.approx(4.0)

    for user_id in users:
        await store.leave(channel_id, user_id, "c1")
        announcer.left(channel_id, {"id": user_id})
    await announcer.flush(channel_id)
    assert channel_id not in announcer.present  # an empty channel is forgotten, not kept per channel ever seen


async def test_a_burst_of_presence_calls_waits_for_a_connection_instead_of_failing():
    """300 sockets closing at once (a process's whole crowd leaving) used to fail past redis-py's default
    pool of 100 with MaxConnectionsError, leaving their entries to expire by TTL."""
    store, user_id = presence_store(), str(uuid.uuid4())
    assert all(await asyncio.gather(*(store.socket_open(user_id, f"c{i}", 1000) for i in range(300))))
    await asyncio.gather(*(store.socket_close(user_id, f"c{i}") for i in range(300)))
    assert await store.socket_open(user_id, "again", 1)  # every close took effect: none left counted
