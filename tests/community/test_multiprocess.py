"""Two real daphne processes sharing PostgreSQL/SQLite and Redis, a real websocket client on each.

A message sent through one process reaches the client on the other; presence shows both users; and
killing one process (SIGKILL: no cleanup runs) removes its user from presence within the TTL.
Needs Redis (the shared channel layer and presence); CI runs it with PostgreSQL and Redis.
"""

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from community.models import Channel, Message
from tests.factories import UserFactory, make_api_key
from tests.live import DaphneProcess, ws_connect, ws_frame

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: processes share Redis (CI sets it)"),
]

TTL = 4  # seconds; production uses 30 (PRESENCE_TTL_SECONDS)
FAST_PRESENCE = {"PRESENCE_TTL_SECONDS": str(TTL), "PRESENCE_HEARTBEAT_SECONDS": "1"}


@pytest.fixture
def two_servers(tmp_path):
    servers = [DaphneProcess(env=FAST_PRESENCE, log_dir=tmp_path).start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


async def test_message_presence_and_process_death_across_two_daphne_processes(two_servers):
    one, two = two_servers
    alice = await sync_to_async(UserFactory)(username="alice")
    bob = await sync_to_async(UserFactory)(username="bob")
    channel = await sync_to_async(Channel.objects.create)(name="general")
    alice_key = (await sync_to_async(make_api_key)(alice, name="ws"))[1]
    bob_key = (await sync_to_async(make_api_key)(bob, name="ws"))[1]
    channel_id = str(channel.pk)

    ws_alice = await ws_connect(one, alice_key)
    ws_bob = await ws_connect(two, bob_key)
    try:
        await ws_alice.send(json.dumps({"type": "channel:join", "channel": channel_id}))
        await ws_frame(ws_alice, lambda f: f["type"] == "presence:sync")
        await ws_bob.send(json.dumps({"type": "channel:join", "channel": channel_id}))
        sync = await ws_frame(ws_bob, lambda f: f["type"] == "presence:sync")
        assert {u["username"] for u in sync["users"]} == {"alice", "bob"}  # presence shows both
        joined = await ws_frame(
            ws_alice, lambda f: f["type"] == "presence:diff" and "bob" in [u["username"] for u in f["joined"]]
        )
        assert joined["left"] == []

        await ws_alice.send(json.dumps({"type": "message:send", "channel": channel_id, "content": "over the wire", "client_id": "m1"}))
        new = await ws_frame(ws_bob, lambda f: f["type"] == "message:new")
        assert new["message"]["content"] == "over the wire" and new["message"]["user"]["username"] == "alice"
        assert await sync_to_async(Message.objects.filter(pk=new["message"]["id"]).exists)()

        await ws_bob.send(json.dumps({"type": "message:send", "channel": channel_id, "content": "and back", "client_id": "m2"}))
        back = await ws_frame(ws_alice, lambda f: f["type"] == "message:new" and f["message"]["content"] == "and back")
        assert back["message"]["seq"] == new["message"]["seq"] + 1

        # Kill bob's process outright: no disconnect handler runs there, only the TTL can heal presence.
        killed_at = time.monotonic()
        two.kill()
        left = await ws_frame(ws_alice, lambda f: f["type"] == "presence:diff" and f["left"], timeout=TTL + 8)
        elapsed = time.monotonic() - killed_at
        assert left["left"][0]["id"] == str(bob.pk)
        assert elapsed <= TTL + 2, f"presence healed after {elapsed:.1f}s (TTL {TTL}s)"

        ws_check = await ws_connect(one, alice_key)
        await ws_check.send(json.dumps({"type": "channel:join", "channel": channel_id}))
        again = await ws_frame(ws_check, lambda f: f["type"] == "presence:sync")
        assert [u["username"] for u in again["users"]] == ["alice"]
        await ws_check.close()
    finally:
        await ws_alice.close()
        await ws_bob.close()


async def test_idle_socket_survives_more_than_ten_seconds(two_servers):
    """redis-py 8 times out blocking reads after 5 s unless the layer sets socket_timeout=None."""
    one, _ = two_servers
    user = await sync_to_async(UserFactory)()
    key = (await sync_to_async(make_api_key)(user, name="ws"))[1]
    ws = await ws_connect(one, key)
    try:
        await asyncio.sleep(11)
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
    finally:
        await ws.close()
