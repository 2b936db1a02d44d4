"""The /ws/ endpoint: session or API-key auth at the handshake, 4401 otherwise, origin checked."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from agentwise.asgi import application
from tests.factories import UserFactory, make_api_key

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")  # a browser's handshake always names the host its Origin must match


async def _connect(headers):
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def _assert_closed_with_4401(headers):
    communicator, connected, _ = await _connect(headers)
    assert connected  # accepted so that the close frame can carry the code
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_anonymous_is_closed_with_4401():
    await _assert_closed_with_4401([ORIGIN, HOST])


async def test_unknown_api_key_is_closed_with_4401():
    await _assert_closed_with_4401([ORIGIN, HOST, (b"authorization", b"Bearer aw_nope")])


async def test_revoked_api_key_is_closed_with_4401():
    from accounts.services import api_key_revoke

    user = await sync_to_async(UserFactory)()
    api_key, raw_key = await sync_to_async(make_api_key)(user, name="ws")
    await sync_to_async(api_key_revoke)(actor=user, api_key=api_key)
    await _assert_closed_with_4401([ORIGIN, HOST, (b"authorization", f"Bearer {raw_key}".encode())])


async def test_api_key_connects_and_pings():
    user = await sync_to_async(UserFactory)()
    _, raw_key = await sync_to_async(make_api_key)(user, name="ws")
    communicator, connected, _ = await _connect([ORIGIN, HOST, (b"authorization", f"Bearer {raw_key}".encode())])
    assert connected
    await communicator.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await communicator.receive_from()) == {"type": "pong"}
    await communicator.disconnect()


async def test_session_cookie_connects():
    user = await sync_to_async(UserFactory)()
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator, connected, _ = await _connect([ORIGIN, HOST, (b"cookie", cookie)])
    assert connected
    await communicator.disconnect()


async def test_cross_site_origin_is_refused():
    user = await sync_to_async(UserFactory)()
    _, raw_key = await sync_to_async(make_api_key)(user, name="ws")
    communicator, connected, _ = await _connect(
        [(b"origin", b"https://evil.example"), (b"authorization", f"Bearer {raw_key}".encode())]
    )
    assert not connected


@pytest.mark.parametrize(
    "frame, code",
    [("{nope", "bad_json"), ("[1, 2]", "bad_frame"), ('{"type": "nope"}', "unknown_type"), ('{"x": 1}', "bad_frame")],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(frame, code):
    user = await sync_to_async(UserFactory)()
    _, raw_key = await sync_to_async(make_api_key)(user, name="ws")
    communicator, connected, _ = await _connect([ORIGIN, HOST, (b"authorization", f"Bearer {raw_key}".encode())])
    assert connected
    await communicator.send_to(text_data=frame)
    error = json.loads(await communicator.receive_from())
    assert error["type"] == "error" and error["code"] == code
    await communicator.send_to(text_data='{"type": "ping"}')
    assert json.loads(await communicator.receive_from())["type"] == "pong"
    await communicator.disconnect()


async def test_scripts_with_an_api_key_may_omit_origin():
    user = await sync_to_async(UserFactory)()
    _, raw_key = await sync_to_async(make_api_key)(user, name="cli")
    communicator, connected, _ = await _connect([(b"authorization", f"Bearer {raw_key}".encode())])
    assert connected
    await communicator.send_to(text_data='{"type": "ping"}')
    assert json.loads(await communicator.receive_from()) == {"type": "pong"}
    await communicator.disconnect()


async def test_cookie_without_origin_is_refused():
    user = await sync_to_async(UserFactory)()
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator, connected, _ = await _connect([(b"cookie", cookie)])
    assert not connected


@pytest.mark.parametrize(
    "origin, host, allowed",
    [
        (b"http://localhost", b"localhost", True),  # same origin
        (b"http://localhost:8080", b"localhost", False),  # another port is another origin
        (b"https://localhost", b"localhost", False),  # another scheme too (the handshake came over ws://)
        (b"http://localhost", b"evil.example", False),  # a Host outside ALLOWED_HOSTS is no origin of ours
        (b"https://app.agentwise.example", b"internal:9000", True),  # the configured site origin, behind a proxy
        (b"https://app.agentwise.example:444", b"internal:9000", False),
        (b"null", b"localhost", False),  # sandboxed frames and file:// pages
    ],
)
async def test_origin_must_match_in_scheme_host_and_port(settings, origin, host, allowed):
    settings.SITE_URL = "https://app.agentwise.example"
    settings.ALLOWED_HOSTS = ["localhost"]
    user = await sync_to_async(UserFactory)()
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator, connected, _ = await _connect([(b"origin", origin), (b"host", host), (b"cookie", cookie)])
    assert connected is allowed
    if connected:
        await communicator.disconnect()
