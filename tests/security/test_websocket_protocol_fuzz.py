"""The websocket protocol (docs/realtime.md) under generated frames of every type, valid and not.

Two sockets per example: a member of the private channel and private forum, and an outsider who is in
neither. Hypothesis draws a sequence of frames — every client frame type of the consumer's dispatch table
with valid fields and with wrong types, missing fields, huge strings, plus unknown types, non-JSON text,
JSON that is not an object and binary frames — and which socket sends each. After every frame the socket
gets a sentinel frame, so the frames it answered directly are those before the sentinel's answer. Rules:

- every frame the server sends is a JSON object with a documented ``type``;
- no bad frame closes the socket: it is answered by an ``error`` with a documented code (``missing_field``
  names the field, ``ref`` echoes the ``client_id``), and the socket still answers ``ping`` at the end;
- a valid frame gets its documented answer (``pong``, ``presence:sync``, ``ack``, ``forum:watching``,
  ``forum:unwatched``, ``report:ok``) and no error;
- nothing the outsider receives names the private channel, the private forum's topic, or their content:
  asking for them is ``not_found``, exactly like an id that does not exist;
- an abusive client (flooding after ``rate_limited``) is closed with the documented 4429.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from agentwise.asgi import application
from community import consumers, services
from community.consumers import RealtimeConsumer
from community.models import Channel, ChannelMember, ChannelType
from tests.factories import UserFactory, make_api_key

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")

SERVER_TYPES = {
    "ack", "message:new", "message:edited", "message:deleted", "reaction:updated", "user:typing", "presence:sync",
    "channel:removed", "presence:diff", "notification", "forum:watching", "forum:unwatched", "forum:reply",
    "forum:reply_updated", "forum:removed", "report:ok", "error", "pong",
}
ERROR_CODES = {
    "bad_json", "bad_frame", "unknown_type", "missing_field", "invalid", "not_found", "forbidden", "not_joined",
    "frame_too_large", "rate_limited", "too_many", "internal_error",
}
SECRET = "the-inner-circle-secret"

# --- what a frame may name -----------------------------------------------------------------------------
# Placeholders, replaced by the world's ids when sent: a strategy cannot know them before the test runs.
PUBLIC, PRIVATE, UNKNOWN = "@public", "@private", "@unknown"
OWN_MESSAGE, PRIVATE_MESSAGE = "@own-message", "@private-message"
TOPIC, PRIVATE_TOPIC = "@topic", "@private-topic"

WRONG_TYPES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.just(""), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
HUGE = st.sampled_from([5_000, 70_000]).map(lambda n: "x" * n)  # over the message limit; over the frame limit
TEXTS = st.text(min_size=1, max_size=30).filter(lambda t: t.strip())
CLIENT_IDS = st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=12)

# type -> {field: (valid values, required)}
SCHEMA = {
    "ping": {},
    "channel:join": {"channel": (st.sampled_from([PUBLIC, PRIVATE]), True)},
    "channel:leave": {"channel": (st.sampled_from([PUBLIC, PRIVATE]), True)},
    "message:send": {"channel": (st.sampled_from([PUBLIC, PRIVATE]), True), "content": (TEXTS, True)},
    "message:edit": {"id": (st.sampled_from([OWN_MESSAGE, PRIVATE_MESSAGE]), True), "content": (TEXTS, True)},
    "message:delete": {"id": (st.sampled_from([OWN_MESSAGE, PRIVATE_MESSAGE]), True)},
    "reaction:toggle": {"message": (st.sampled_from([OWN_MESSAGE, PRIVATE_MESSAGE]), True), "emoji": (st.just("👍"), True)},
    "typing:start": {"channel": (st.sampled_from([PUBLIC, PRIVATE]), True)},
    "typing:stop": {"channel": (st.sampled_from([PUBLIC, PRIVATE]), True)},
    "forum:watch": {"post": (st.sampled_from([TOPIC, PRIVATE_TOPIC]), True)},
    "forum:unwatch": {"post": (st.sampled_from([TOPIC, PRIVATE_TOPIC]), True)},
    "report": {
        "content_type": (st.just("forum_post"), True),
        "content_id": (st.sampled_from([TOPIC, PRIVATE_TOPIC]), True),
        "reason": (st.sampled_from(["spam", "rude"]), True),
    },
}
assert set(SCHEMA) == set(RealtimeConsumer.HANDLERS), "a frame type without a strategy: add it to SCHEMA"


@st.composite
def valid_frames(draw, kind):
    frame = {"type": kind, **{name: draw(values) for name, (values, _) in SCHEMA[kind].items()}}
    if draw(st.booleans()):
        frame["client_id"] = draw(CLIENT_IDS)
    return frame


@st.composite
def broken_frames(draw, kind):
    """A frame of a known type with one field broken: missing, the wrong type, huge, or an unknown id."""
    frame = draw(valid_frames(kind))
    fields = list(SCHEMA[kind]) + ["client_id"]
    name = draw(st.sampled_from(fields))
    how = draw(st.sampled_from(["missing", "wrong_type", "huge", "unknown"]))
    if how == "missing":
        frame.pop(name, None)
    elif how == "wrong_type":
        frame[name] = draw(WRONG_TYPES)
    elif how == "huge":
        frame[name] = draw(HUGE)
    else:
        frame[name] = draw(st.sampled_from([UNKNOWN, "not-a-uuid", "GENERAL"]))
    return frame


GARBAGE = st.one_of(
    # Not JSON. (A websocket text frame is UTF-8: no lone surrogates.)
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=50).filter(lambda t: not _is_json(t)).map(
        lambda t: ("text", t)
    ),
    st.sampled_from(["[]", "1", '"ping"', "null", '{"type": 1}', "{}", '{"type": null}']).map(lambda t: ("text", t)),
    st.builds(lambda t: ("text", json.dumps({"type": t})), st.text(max_size=20).filter(lambda t: t not in SCHEMA)),
    st.binary(min_size=1, max_size=50).map(lambda b: ("bytes", b)),
    st.just(("text", json.dumps({"type": "ping", "pad": "x" * 70_000}))),  # over the frame limit
)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


FRAMES = st.one_of(
    st.sampled_from(sorted(SCHEMA)).flatmap(valid_frames).map(lambda f: ("valid", f)),
    st.sampled_from(sorted(SCHEMA)).flatmap(broken_frames).map(lambda f: ("broken", f)),
    GARBAGE.map(lambda g: ("garbage", g)),
)
STEPS = st.lists(st.tuples(st.sampled_from(["member", "outsider"]), FRAMES), min_size=1, max_size=8)


# --- the world -------------------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    member, outsider, author = (UserFactory(username=name) for name in ("member", "outsider", "author"))
    public = Channel.objects.create(name="general", category="Community")
    private = Channel.objects.create(name="inner-circle", category="Community", is_private=True)
    forum = Channel.objects.create(name="help", category="Forum", type=ChannelType.FORUM)
    council = Channel.objects.create(name="council", category="Forum", type=ChannelType.FORUM, is_private=True)
    for channel in (private, council):
        ChannelMember.objects.bulk_create([ChannelMember(channel=channel, user=u) for u in (member, author)])
    private_message = services.message_post(actor=author, channel=private, content=f"{SECRET} message")
    topic = services.forum_post_create(actor=author, channel=forum, title="Public question", content="Open to all.")
    private_topic = services.forum_post_create(
        actor=author, channel=council, title=f"{SECRET} topic", content=f"{SECRET} body."
    )
    return {
        "member": member,
        "keys": {"member": make_api_key(member)[1], "outsider": make_api_key(outsider)[1]},
        "ids": {
            PUBLIC: str(public.pk), PRIVATE: str(private.pk), UNKNOWN: str(uuid.uuid4()),
            PRIVATE_MESSAGE: str(private_message.pk), TOPIC: str(topic.pk), PRIVATE_TOPIC: str(private_topic.pk),
            "GENERAL": str(public.pk),
        },
        "private": {str(private.pk), str(private_message.pk), str(private_topic.pk), str(council.pk), SECRET},
        "public": public,
    }


@pytest.fixture
def generous(settings, monkeypatch):
    """Generated frames may post and report often: no limit ends the socket mid-example (the flood rule is
    tested on its own below)."""
    settings.COMMUNITY_POST_RATE = {"messages": 100_000, "seconds": 10}
    settings.WS_FLOOD_STRIKES = 100_000
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **{name: "100000/second" for name in settings.RATE_LIMITS}}
    settings.MODERATION_BOT_DETECTION = False
    monkeypatch.setattr(consumers, "FRAMES_PER_SECOND", 100_000)


# --- the oracle ------------------------------------------------------------------------------------------


def _resolve(value, ids):
    if isinstance(value, str):
        return ids.get(value, value)
    return value


def expected_answer(sender: str, frame: dict, state: dict) -> str | None:
    """For a valid frame: the documented direct answer's type, ``error:<code>``, or None (no direct answer)."""
    kind = frame["type"]
    member = sender == "member"
    names = {frame.get(field) for field in ("channel", "id", "message", "post", "content_id")}
    if kind in ("message:edit", "message:delete", "reaction:toggle"):
        target = frame.get("id") or frame.get("message")
        if target in state["deleted"] or (target == PRIVATE_MESSAGE and not member):
            return "error:not_found"
        mine = target == OWN_MESSAGE and member
        if not mine and kind != "reaction:toggle":
            return "error:forbidden"  # someone else's message (the outsider sees the member's: it is public)
        return None  # answered by the broadcast, not directly
    if not member and names & {PRIVATE, PRIVATE_TOPIC}:
        return None if kind in ("channel:leave", "typing:stop", "forum:unwatch") else "error:not_found"
    if kind == "report" and frame["content_id"] == PRIVATE_TOPIC and not member:
        return "error:not_found"
    if kind == "typing:start":
        return None if frame["channel"] in state["joined"][sender] else "error:not_joined"
    return {
        "ping": "pong",
        "channel:join": "presence:sync",
        "message:send": "ack",
        "forum:watch": "forum:watching",
        "forum:unwatch": "forum:unwatched",
        "report": "report:ok",
    }.get(kind)


def _after(sender: str, sent: dict, state: dict, answered_error: bool, names: dict) -> None:
    """Keeps the oracle's model of the sockets in step with what they did: any frame the server accepted,
    valid or broken (a broken field may still name a real object), counts. ``names`` maps ids back to
    the placeholders the oracle reasons with."""
    if answered_error or not isinstance(sent, dict):
        return
    kind = sent.get("type")
    target = sent.get("channel") if kind in ("channel:join", "channel:leave") else sent.get("id")
    if not isinstance(target, str) or target not in names:
        return
    if kind == "channel:join":
        state["joined"][sender].add(names[target])
    elif kind == "channel:leave":
        state["joined"][sender].discard(names[target])
    elif kind == "message:delete":
        state["deleted"].add(names[target])


# --- the test --------------------------------------------------------------------------------------------


async def _open(raw_key) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/", headers=[ORIGIN, HOST, (b"authorization", f"Bearer {raw_key}".encode())]
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def _answers(communicator, who: str, leaks: set, sentinel: str) -> list[dict]:
    """Every frame received until the answer to the sentinel, each checked against the rules for all frames.

    The sentinel is ``forum:unwatch`` of a made-up topic: answered at once, by name, touching nothing."""
    received = []
    while True:
        try:
            output = await communicator.receive_output(timeout=5)
        except TimeoutError:
            raise AssertionError(f"{who}'s socket stopped answering; it sent {received}") from None
        assert output["type"] == "websocket.send", f"{who}'s socket closed: {output}"
        text = output.get("text")
        assert text is not None, "the server sends text frames only"
        frame = json.loads(text)
        assert isinstance(frame, dict) and frame.get("type") in SERVER_TYPES, frame
        if frame["type"] == "error":
            assert frame["code"] in ERROR_CODES and isinstance(frame["message"], str) and frame["message"], frame
        if who == "outsider":
            assert not any(secret in text for secret in leaks), f"the outsider was told about a private object: {text}"
        if frame == {"type": "forum:unwatched", "post": sentinel}:
            return received
        received.append(frame)


async def _sync(communicator, who, leaks, n) -> list[dict]:
    sentinel = f"sentinel-{n}"
    await communicator.send_to(text_data=json.dumps({"type": "forum:unwatch", "post": sentinel}))
    return await _answers(communicator, who, leaks, sentinel)


def _check_direct(sender, kind, frame, sent, direct, state):
    errors = [f for f in direct if f["type"] == "error"]
    if kind == "valid":
        want = expected_answer(sender, frame, state)
        got = [f["type"] if f["type"] != "error" else f"error:{f['code']}" for f in direct]
        if want is None:
            assert not errors, (sender, frame, errors)
        else:
            assert want in got, f"{sender} sent {frame}: expected {want}, got {got}"
            assert len(errors) == (1 if want.startswith("error:") else 0), (sender, frame, got)
        if want == "ack":
            ack = next(f for f in direct if f["type"] == "ack")
            assert ack["client_id"] == frame.get("client_id")
        return errors
    if kind == "broken":
        # One error at most, naming the problem; a broken field that is optional may still be accepted.
        assert len(errors) <= 1, errors
        for error in errors:
            if error["code"] == "missing_field":
                assert set(error["fields"]) & (set(SCHEMA[frame["type"]]) | {"client_id"}), error
            client_id = sent.get("client_id") if isinstance(sent, dict) else None
            if isinstance(client_id, str) and 0 < len(client_id) <= 64 and error["code"] not in ("frame_too_large",):
                assert error.get("ref") == client_id, error
        return errors
    assert len(errors) == 1, f"garbage {frame!r} was not answered by one error: {direct}"
    return errors


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(steps=STEPS)
def test_generated_frames_follow_the_protocol(steps, world, generous):
    own = services.message_post(actor=world["member"], channel=world["public"], content="mine")
    # The member's own message, fresh for each example (a step may delete it); it is in the public channel.
    ids = {**world["ids"], OWN_MESSAGE: str(own.pk)}
    names = {value: name for name, value in ids.items() if name.startswith("@")}
    state = {"joined": {"member": set(), "outsider": set()}, "deleted": set()}

    note(f"steps: {steps}")

    async def run():
        channel_layers.backends.clear()  # each example runs on a new event loop; the layer's queues belong to one
        sockets = {who: await _open(world["keys"][who]) for who in ("member", "outsider")}
        try:
            for n, (sender, (kind, frame)) in enumerate(steps):
                communicator = sockets[sender]
                if kind == "garbage":
                    mode, payload = frame
                    sent = None
                    if mode == "bytes":
                        await communicator.send_to(bytes_data=payload)
                    else:
                        await communicator.send_to(text_data=payload)
                else:
                    sent = {name: _resolve(value, ids) for name, value in frame.items()}
                    await communicator.send_to(text_data=json.dumps(sent))
                direct = [
                    f for f in await _sync(communicator, sender, world["private"], n)
                    if f["type"] in ("error", "pong", "ack", "presence:sync", "forum:watching", "forum:unwatched",
                                     "report:ok")
                ]
                errors = _check_direct(sender, kind, frame, sent, direct, state)
                _after(sender, sent, state, answered_error=bool(errors), names=names)
            for who, communicator in sockets.items():  # still open, still answering
                await communicator.send_to(text_data='{"type": "ping"}')
                assert {"type": "pong"} in await _sync(communicator, who, world["private"], "end")
        finally:
            for communicator in sockets.values():
                try:
                    await communicator.disconnect(timeout=3)
                except (Exception, asyncio.CancelledError):  # closed already, or the failure is reported above
                    pass

    async_to_sync(run)()


# --- abuse ------------------------------------------------------------------------------------------------


async def test_a_client_that_keeps_flooding_is_closed_with_4429(world, settings):
    settings.WS_FLOOD_STRIKES = 3
    communicator = await _open(world["keys"]["member"])
    codes = []
    for _ in range(consumers.FRAMES_PER_SECOND + 10):
        await communicator.send_to(text_data='{"type": "ping"}')
    while True:
        output = await communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
        frame = json.loads(output["text"])
        codes.append(frame.get("code") or frame["type"])
    assert output["code"] == consumers.CLOSE_FLOODING == 4429
    assert "rate_limited" in codes  # told before being closed
    await communicator.disconnect()
