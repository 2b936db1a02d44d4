"""Redis restarted while websockets are connected (the test's own redis-server, killed and started again on
the same port): ``/readyz/`` answers 503 naming the failing checks while it is down; afterwards clients
reconnect or notice the gap and catch up (docs/realtime.md), and every message saved in PostgreSQL is
in every client's view."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from community.models import Channel, Message
from tests.factories import UserFactory, make_api_key
from tests.faults.catchup import CatchUpClient
from tests.faults.processes import RedisServer, http
from tests.live import DaphneProcess
from tests.worker import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several processes write at once: needs PostgreSQL"),
]


@pytest.fixture
def redis_server(tmp_path):
    with RedisServer(tmp_path) as server:
        yield server


@pytest.fixture
def two_servers(tmp_path, redis_server):
    env = {"REDIS_URL": redis_server.url, "PRESENCE_TTL_SECONDS": "4", "PRESENCE_HEARTBEAT_SECONDS": "1"}
    servers = [DaphneProcess(env=env, log_dir=tmp_path).start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


def _post(server, key, channel, content) -> int:
    return http("POST", f"{server.url}/api/community/channels/{channel.pk}/messages/", key=key,
                body={"content": content})[0]


async def test_clients_catch_up_after_a_redis_restart_and_readyz_reports_the_outage(two_servers, redis_server):
    one, two = two_servers
    writer = await sync_to_async(UserFactory)(username="writer")
    writer_key = (await sync_to_async(make_api_key)(writer, name="api"))[1]
    readers = [await sync_to_async(UserFactory)(username=f"reader{n}") for n in range(2)]
    keys = [(await sync_to_async(make_api_key)(user, name="ws"))[1] for user in readers]
    channel = await sync_to_async(Channel.objects.create)(name="general")
    clients = [CatchUpClient(url=server.url, key=key, channel_id=str(channel.pk))
               for server, key in zip(two_servers, keys, strict=True)]
    for client in clients:
        await client.connect()
    try:
        for n in range(3):
            assert await asyncio.to_thread(_post, one, writer_key, channel, f"before {n}") == 201
        await asyncio.gather(*[client.follow(1.5) for client in clients])
        assert all(len(client.seen) == 3 for client in clients)

        redis_server.kill()
        for server in two_servers:
            status, _, body = await asyncio.to_thread(http, "GET", f"{server.url}/readyz/")
            assert status == 503, body
            assert {"cache", "channel_layer", "broker"} <= set(body["failing"]), body
            assert body["checks"]["database"]["status"] == "ok"
        outage = [await asyncio.to_thread(_post, server, writer_key, channel, f"during {n}")
                  for n, server in enumerate(two_servers)]
        assert outage == [503, 503]  # the API's rate limits live in Redis: refused cleanly, nothing saved
        await asyncio.gather(*[client.follow(1) for client in clients])

        await asyncio.to_thread(redis_server.start)
        for server in two_servers:  # each process reconnects by itself (channels-redis retries every second)
            assert await asyncio.to_thread(wait_for, lambda s=server: http("GET", f"{s.url}/readyz/")[0] == 200, 15)
        for n, server in enumerate(two_servers):
            assert await asyncio.to_thread(_post, server, writer_key, channel, f"after {n}") == 201
        await asyncio.gather(*[client.follow(4) for client in clients])
    finally:
        for client in clients:
            await client.close()

    saved = await sync_to_async(lambda: {str(pk): seq for pk, seq in Message.objects.values_list("id", "seq")})()
    assert len(saved) >= 5, (outage, saved)
    for client in clients:
        assert client.seen == saved, (outage, client.reconnects, client.catch_ups)
