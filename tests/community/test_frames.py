"""No frame kills the socket: malformed, hostile or random frames get an ``error`` frame and the socket
still answers ``ping``; a bug in a handler costs one frame (``internal_error`` with a logged reference)."""

import json
import logging

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentwise.asgi import application
from community import services
from community.consumers import RealtimeConsumer
from community.presence import presence_store
from tests.factories import UserFactory, make_api_key

from .conftest import HOST, ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)


async def _open(raw_key) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/", headers=[ORIGIN, HOST, (b"authorization", f"Bearer {raw_key}".encode())]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _still_answers_ping(communicator) -> None:
    await communicator.send_to(text_data='{"type": "ping"}')
    while True:
        frame = json.loads(await communicator.receive_from(timeout=5))
        if frame["type"] == "pong":
            return
        assert frame["type"] in ("error", "presence:sync", "presence:diff", "ack", "message:new", "message:edited",
                                 "message:deleted", "reaction:updated", "user:typing"), frame


@pytest.mark.parametrize("depth", [5_000, 30_000])
async def test_deeply_nested_json_is_bad_json_not_a_dead_socket(depth):
    user = await sync_to_async(UserFactory)()
    _, raw_key = await sync_to_async(make_api_key)(user)
    communicator = await _open(raw_key)
    await communicator.send_to(text_data="[" * depth + "]" * depth)
    error = json.loads(await communicator.receive_from())
    assert error["type"] == "error" and error["code"] in ("bad_json", "frame_too_large")
    await _still_answers_ping(communicator)
    await communicator.disconnect()


async def test_a_bug_in_a_handler_costs_one_frame_with_a_logged_reference(monkeypatch, caplog, channels_):
    user = await sync_to_async(UserFactory)()
    _, raw_key = await sync_to_async(make_api_key)(user)

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "message_post", broken)
    communicator = await _open(raw_key)
    with caplog.at_level(logging.ERROR, logger="community.consumers"):
        await communicator.send_to(text_data=json.dumps(
            {"type": "message:send", "channel": str(channels_["general"].pk), "content": "hi", "client_id": "c1"}
        ))
        error = json.loads(await communicator.receive_from())
    assert error["type"] == "error" and error["code"] == "internal_error"
    assert error["reference"] in caplog.text and "boom" in caplog.text  # the log names the same reference
    assert "boom" not in error["message"]  # no internals to the client
    await _still_answers_ping(communicator)
    await communicator.disconnect()


async def test_every_exit_path_releases_presence_and_the_socket_slot(channels_, settings):
    settings.WS_MAX_SOCKETS_PER_USER = 1
    user = await sync_to_async(UserFactory)()
    _, raw_key = await sync_to_async(make_api_key)(user)
    general = str(channels_["general"].pk)
    communicator = await _open(raw_key)
    await communicator.send_to(text_data=json.dumps({"type": "channel:join", "channel": general}))
    assert json.loads(await communicator.receive_from())["type"] == "presence:sync"
    assert str(user.pk) in await presence_store().users(general)
    await communicator.disconnect()
    assert str(user.pk) not in await presence_store().users(general)
    again = await _open(raw_key)  # the only slot was given back
    await _still_answers_ping(again)
    await again.disconnect()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FRAME_TYPES = st.sampled_from([*RealtimeConsumer.HANDLERS, "nope", "", "ping"])
FIELDS = st.sampled_from(["channel", "content", "id", "message", "emoji", "parent", "attachments", "client_id",
                          "content_type"])
FRAMES = st.one_of(
    st.text(min_size=1, max_size=200),  # not JSON, or JSON that is not an object
    JSON.map(json.dumps),
    st.builds(
        lambda kind, fields: json.dumps({"type": kind, **fields}),
        FRAME_TYPES,
        st.dictionaries(FIELDS, JSON | st.uuids().map(str) | st.just("GENERAL"), max_size=5),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(frames=st.lists(FRAMES, min_size=1, max_size=6))
def test_random_frames_never_kill_the_socket(frames, channels_, django_settings_for_fuzz):
    user = UserFactory()
    _, raw_key = make_api_key(user)
    general = str(channels_["general"].pk)

    async def run():
        channel_layers.backends.clear()  # each example runs on a new event loop; the layer's queues belong to one
        communicator = await _open(raw_key)
        await communicator.send_to(text_data=json.dumps({"type": "channel:join", "channel": general}))
        for text in frames:
            await communicator.send_to(text_data=text.replace("GENERAL", general))
        await _still_answers_ping(communicator)
        await communicator.disconnect()

    async_to_sync(run)()


@pytest.fixture
def django_settings_for_fuzz(settings):
    """Random frames may post messages: no rate limit or flood strike ends the socket mid-example."""
    settings.COMMUNITY_POST_RATE = {"messages": 100_000, "seconds": 10}
    settings.WS_FLOOD_STRIKES = 100_000
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **{name: "100000/second" for name in settings.RATE_LIMITS}}
