"""A daphne process killed (SIGKILL: no disconnect handler runs) behind the devproxy: its clients reconnect
through the proxy to the other process and catch up, a client that does not come back drops out of
presence within ``PRESENCE_TTL_SECONDS`` (short here), and one who reconnected stays present."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from community.models import Channel, Message
from tests.factories import UserFactory, make_api_key
from tests.faults.catchup import CatchUpClient
from tests.faults.processes import DevProxy, http
from tests.live import DaphneProcess

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several processes write at once: needs PostgreSQL"),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: processes share Redis (CI sets it)"),
]

TTL = 4  # seconds; production uses 30
FAST_PRESENCE = {"PRESENCE_TTL_SECONDS": str(TTL), "PRESENCE_HEARTBEAT_SECONDS": "1"}


@pytest.fixture
def two_servers(tmp_path):
    servers = [DaphneProcess(env=FAST_PRESENCE, log_dir=tmp_path).start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


async def test_clients_of_a_killed_daphne_reconnect_to_the_other_and_presence_heals_within_the_ttl(
    two_servers, tmp_path
):
    one, two = two_servers
    users = {name: await sync_to_async(UserFactory)(username=name) for name in ("alice", "bob", "carol")}
    keys = {name: (await sync_to_async(make_api_key)(user, name="ws"))[1] for name, user in users.items()}
    channel = await sync_to_async(Channel.objects.create)(name="general")
    ids = {name: str(user.pk) for name, user in users.items()}
    post_url = f"{two.url}/api/community/channels/{channel.pk}/messages/"

    with DevProxy([one.port, two.port], tmp_path) as proxy:
        # alice and bob come in through the proxy, one on each process (round-robin); carol straight to
        # the process about to die, and she will not come back.
        alice, bob = (CatchUpClient(url=proxy.url, key=keys[name], channel_id=str(channel.pk)) for name in ("alice", "bob"))
        carol = CatchUpClient(url=one.url, key=keys["carol"], channel_id=str(channel.pk))
        for client in (alice, bob, carol):
            await client.connect()
        try:
            assert await asyncio.to_thread(http, "POST", post_url, key=keys["alice"], body={"content": "before"})
            await asyncio.gather(*[client.follow(1) for client in (alice, bob)])
            assert alice.presence == bob.presence == set(ids.values())

            killed_at = time.monotonic()
            one.kill()
            await carol.ws.close()  # its process is gone; carol does not reconnect
            for n in range(3):  # written while the clients of the dead process are away
                status, _, _ = await asyncio.to_thread(http, "POST", post_url, key=keys["bob"], body={"content": f"gap {n}"})
                assert status == 201

            async def healed():
                while time.monotonic() - killed_at < TTL + 6:
                    await asyncio.gather(alice.follow(0.5), bob.follow(0.5))
                    if alice.presence == bob.presence == {ids["alice"], ids["bob"]}:
                        return time.monotonic() - killed_at
                return None

            elapsed = await healed()
            assert elapsed is not None, (alice.presence, bob.presence)
            assert elapsed <= TTL + 2, f"presence healed after {elapsed:.1f}s (TTL {TTL}s)"
            assert alice.reconnects + bob.reconnects == 1  # exactly the one on the dead process
            assert await asyncio.to_thread(http, "POST", post_url, key=keys["alice"], body={"content": "after"})
            await asyncio.gather(alice.follow(1.5), bob.follow(1.5))
            # A fresh socket on the survivor sees the healed presence too.
            check = CatchUpClient(url=two.url, key=keys["bob"], channel_id=str(channel.pk))
            await check.connect()
            await check.close()
            assert check.presence == {ids["alice"], ids["bob"]}
        finally:
            for client in (alice, bob):
                await client.close()

    saved = await sync_to_async(lambda: {str(pk): seq for pk, seq in Message.objects.values_list("id", "seq")})()
    assert len(saved) == 5
    assert alice.seen == saved and bob.seen == saved  # the reconnected client caught up on the gap
