"""PostgreSQL connections dropped mid-traffic (``pg_terminate_backend`` on the web process's own backends,
in the test database only): a request caught in flight answers a clean 503 JSON error, a websocket write
answers an ``error`` frame on a socket that stays open, and the next requests and frames succeed.

A request is caught in flight deterministically: the test holds the channel's row lock, so the web
process's ``message_post`` waits on it; the backends waiting are the ones terminated. The web process
keeps persistent connections (``DJANGO_CONN_MAX_AGE``) as production does."""

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, transaction

from community.models import Channel, Message
from tests.factories import UserFactory, make_api_key
from tests.faults.processes import http
from tests.live import DaphneProcess, ws_connect, ws_frame

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_terminate_backend: needs PostgreSQL (CI has it)"),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: the web process's cache and channel layer"),
]


WEB_APP_NAME = "faults-web"  # libpq's application_name: only the web process's backends are terminated


@pytest.fixture
def server(tmp_path):
    with DaphneProcess(env={"DJANGO_CONN_MAX_AGE": "60", "PGAPPNAME": WEB_APP_NAME}, log_dir=tmp_path) as running:
        yield running


def _web_backends(*, waiting_on_lock: bool = False) -> list[int]:
    query = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
             + (" AND wait_event_type = 'Lock'" if waiting_on_lock else ""))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first reading only
        cursor.execute(query, [WEB_APP_NAME])
        return [row[0] for row in cursor.fetchall()]


def _terminate(pids: list[int]) -> None:
    with connection.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def _catch_in_flight(channel_pk, locked: threading.Event, timeout: float = 15) -> list[int]:
    """Holds the channel's row lock until a backend waits on it, then terminates the waiting backends."""
    try:
        with transaction.atomic():
            Channel.objects.select_for_update().get(pk=channel_pk)
            locked.set()
            deadline = time.monotonic() + timeout
            while not (waiting := _web_backends(waiting_on_lock=True)) and time.monotonic() < deadline:
                time.sleep(0.05)
            _terminate(waiting)
            return waiting
    finally:
        connection.close()  # this thread's own connection


def test_requests_caught_by_dropped_connections_answer_503_json_and_the_next_succeed(server):
    user = UserFactory()
    key = make_api_key(user, name="api")[1]
    channel = Channel.objects.create(name="general")
    url = f"{server.url}/api/community/channels/{channel.pk}/messages/"
    for _ in range(3):
        assert http("GET", url, key=key)[0] == 200

    # Idle persistent connections dropped between requests: health checks reconnect, nobody notices.
    dropped = _web_backends()
    assert dropped  # persistent connections (DJANGO_CONN_MAX_AGE), as in production
    _terminate(dropped)
    assert [http("GET", url, key=key)[0] for _ in range(5)] == [200] * 5

    # A write in flight when its connection drops: a clean 503, nothing saved, the next write succeeds.
    locked = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        catching = pool.submit(_catch_in_flight, channel.pk, locked)
        assert locked.wait(10)
        writing = pool.submit(http, "POST", url, key=key, body={"content": "lost with its connection"})
        assert catching.result(timeout=20), "the write never waited on the lock"
        status, headers, body = writing.result(timeout=20)
    assert status == 503, body
    assert body["error"]["code"] == "unavailable" and "database" in body["error"]["message"]
    assert headers["Retry-After"] == "1"
    assert not Message.objects.filter(content="lost with its connection").exists()

    status, _, body = http("POST", url, key=key, body={"content": "after the drop"})
    assert status == 201, body
    assert body["seq"] == 1  # the failed write took no sequence number
    assert [http("GET", url, key=key)[0] for _ in range(3)] == [200] * 3


async def test_a_websocket_write_caught_by_a_dropped_connection_answers_error_and_the_socket_stays_open(server):
    user = await sync_to_async(UserFactory)()
    key = (await sync_to_async(make_api_key)(user, name="ws"))[1]
    channel = await sync_to_async(Channel.objects.create)(name="general")
    ws = await ws_connect(server, key)
    try:
        await ws.send(json.dumps({"type": "channel:join", "channel": str(channel.pk)}))
        await ws_frame(ws, lambda f: f["type"] == "presence:sync")

        locked = threading.Event()
        catching = asyncio.ensure_future(asyncio.to_thread(_catch_in_flight, channel.pk, locked))
        assert await asyncio.to_thread(locked.wait, 10)
        await ws.send(json.dumps({"type": "message:send", "channel": str(channel.pk), "content": "lost",
                                  "client_id": "c1"}))
        assert await catching, "the write never waited on the lock"
        error = await ws_frame(ws, lambda f: f["type"] in {"error", "ack"})
        assert (error["type"], error["code"], error["ref"]) == ("error", "unavailable", "c1")

        await ws.send(json.dumps({"type": "message:send", "channel": str(channel.pk), "content": "kept",
                                  "client_id": "c2"}))
        ack = await ws_frame(ws, lambda f: f["type"] in {"error", "ack"})
        assert ack["type"] == "ack" and ack["client_id"] == "c2" and ack["seq"] == 1, ack
        await ws.send(json.dumps({"type": "ping"}))
        await ws_frame(ws, lambda f: f["type"] == "pong")
    finally:
        await ws.close()
    contents = await sync_to_async(lambda: list(Message.objects.values_list("content", flat=True)))()
    assert contents == ["kept"]


def test_an_outage_raised_outside_a_view_is_answered_503_by_the_error_handler(rf):
    """Middleware (a session read) raises outside DRF's handler: Django's handler500 answers the same 503."""
    from django.db import OperationalError

    from agentwise.views import handler500

    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = handler500(rf.get("/api/community/channels/"))
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert json.loads(response.content)["error"]["code"] == "unavailable"
