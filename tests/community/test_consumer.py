"""The websocket protocol, frame by frame, through Channels' WebsocketCommunicator."""

import json
import math
import time
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async

from community.models import Message, Reaction
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def joined(connect, user, channel):
    socket = await connect(user)
    await socket.send(type="channel:join", channel=str(channel.pk))
    sync = await socket.recv()
    assert sync["type"] == "presence:sync"
    return socket, sync


async def presence_diff(socket, *, joined=None, left=None) -> dict:
    """The next presence:diff announcing ``joined``/``left`` (diffs are batched and may list others too)."""
    while True:
        diff = await socket.recv(skip=("user:typing",))
        assert diff["type"] == "presence:diff"
        if (joined is None or joined in [u.get("username") for u in diff["joined"]]) and (
            left is None or left in [u.get("username") for u in diff["left"]]
        ):
            return diff


async def test_join_sends_presence_sync_and_others_get_a_diff(connect, people, channels_):
    general = channels_["general"]
    alice, sync = await joined(connect, people["alice"], general)
    assert [u["username"] for u in sync["users"]] == ["alice"]
    assert sync["last_seq"] == 0
    bob = await connect(people["bob"])
    await bob.send(type="channel:join", channel=str(general.pk))
    diff = await presence_diff(alice, joined="bob")
    assert diff["channel"] == str(general.pk) and diff["left"] == []
    bob_entry = next(u for u in diff["joined"] if u["username"] == "bob")
    assert set(bob_entry) == {"id", "username", "display_name", "avatar", "is_staff"}
    bob_sync = await bob.recv()
    assert [u["username"] for u in bob_sync["users"]] == ["alice", "bob"]
    await bob.close()
    left = await presence_diff(alice, left="bob")
    assert left["joined"] == []


async def test_a_join_storm_is_announced_in_a_few_batched_diffs(connect, people, channels_, settings):
    """At most one diff per batch window the joins span (a few; on a busy machine the joins take longer), never one per join."""
    settings.PRESENCE_DIFF_BATCH_SECONDS = 0.5
    general = channels_["general"]
    watcher, _ = await joined(connect, people["staff"], general)
    crowd = await sync_to_async(lambda: [UserFactory(username=f"crowd{i:02d}") for i in range(20)])()
    sockets = [await connect(user) for user in crowd]  # connected first: the storm is the joins themselves
    started = time.monotonic()
    for socket in sockets:
        await socket.send(type="channel:join", channel=str(general.pk))
    for socket in sockets:
        assert (await socket.recv())["type"] == "presence:sync"
    windows = math.ceil((time.monotonic() - started) / settings.PRESENCE_DIFF_BATCH_SECONDS) + 1
    seen, diffs = set(), 0
    while len(seen) < 20:
        diff = await watcher.recv(skip=())
        assert diff["type"] == "presence:diff"
        crowd_in_diff = {u["username"] for u in diff["joined"]} - {"mod"}  # the watcher's own join may come first
        diffs += bool(crowd_in_diff)
        seen |= crowd_in_diff
    assert seen == {f"crowd{i:02d}" for i in range(20)}
    assert diffs <= min(windows, 10), f"{diffs} diffs for 20 joins in {windows} windows: presence changes are not being batched"


async def test_many_tabs_are_one_presence(connect, people, channels_):
    general = channels_["general"]
    watcher, _ = await joined(connect, people["bob"], general)
    tab1, _ = await joined(connect, people["alice"], general)
    await presence_diff(watcher, joined="alice")
    tab2, sync = await joined(connect, people["alice"], general)
    assert [u["username"] for u in sync["users"]] == ["alice", "bob"]
    await tab1.close()
    assert await watcher.expect_nothing()  # alice still has a tab open
    await tab2.close()
    await presence_diff(watcher, left="alice")


async def test_send_acks_and_broadcasts_to_everyone_including_other_tabs(connect, people, channels_):
    general = channels_["general"]
    alice, _ = await joined(connect, people["alice"], general)
    alice_tab2, _ = await joined(connect, people["alice"], general)
    bob, _ = await joined(connect, people["bob"], general)
    await alice.send(type="message:send", channel=str(general.pk), content="hello **world**", client_id="c1")
    frames = [await alice.recv(), await alice.recv()]
    ack = next(f for f in frames if f["type"] == "ack")
    new = next(f for f in frames if f["type"] == "message:new")
    assert ack["client_id"] == "c1" and ack["seq"] == 1
    assert new["message"]["id"] == ack["id"] and new["message"]["content"] == "hello **world**"
    assert new["message"]["client_id"] == "c1" and new["message"]["user"]["username"] == "alice"
    assert (await alice_tab2.recv())["message"]["id"] == ack["id"]
    assert (await bob.recv())["message"]["seq"] == 1
    assert await sync_to_async(Message.objects.filter(pk=ack["id"]).exists)()  # saved before broadcast


async def test_sequence_numbers_increase_per_channel(connect, people, channels_):
    general = channels_["general"]
    alice, _ = await joined(connect, people["alice"], general)
    seqs = []
    for index in range(3):
        await alice.send(type="message:send", channel=str(general.pk), content=f"m{index}", client_id=f"c{index}")
        frames = [await alice.recv(), await alice.recv()]
        seqs.append(next(f for f in frames if f["type"] == "ack")["seq"])
    assert seqs == [1, 2, 3]


async def test_thread_reply_updates_parent(connect, people, channels_):
    general = channels_["general"]
    alice, _ = await joined(connect, people["alice"], general)
    await alice.send(type="message:send", channel=str(general.pk), content="root", client_id="r")
    root_id = next(f for f in [await alice.recv(), await alice.recv()] if f["type"] == "ack")["id"]
    await alice.send(type="message:send", channel=str(general.pk), content="reply", parent=root_id, client_id="x")
    frames = [await alice.recv(), await alice.recv()]
    reply = next(f for f in frames if f["type"] == "message:new")["message"]
    assert reply["parent"] == root_id
    root = await sync_to_async(Message.objects.get)(pk=root_id)
    assert root.reply_count == 1


async def test_edit_delete_and_react_broadcast(connect, people, channels_):
    general = channels_["general"]
    alice, _ = await joined(connect, people["alice"], general)
    bob, _ = await joined(connect, people["bob"], general)
    await alice.send(type="message:send", channel=str(general.pk), content="first", client_id="c")
    message_id = next(f for f in [await alice.recv(), await alice.recv()] if f["type"] == "ack")["id"]
    await bob.recv()

    await alice.send(type="message:edit", id=message_id, content="first (edited)")
    edited = await bob.recv()
    assert edited["type"] == "message:edited" and edited["message"]["content"] == "first (edited)"
    assert edited["message"]["edited_at"]

    await alice.recv()  # her own edit, echoed to all her sockets
    await bob.send(type="reaction:toggle", message=message_id, emoji="👍")
    reaction = await alice.recv(skip=("presence:diff", "notification"))  # alice is also told of bob's reaction
    assert reaction == {"type": "reaction:updated", "message": message_id, "channel": str(general.pk), "emoji": "👍",
                        "count": 1, "user": str(people["bob"].pk), "added": True}
    await bob.send(type="reaction:toggle", message=message_id, emoji="👍")
    assert (await alice.recv(skip=("presence:diff", "notification")))["count"] == 0

    await bob.send(type="message:edit", id=message_id, content="hijack")
    # Presence diffs are batched on a timer: on a busy machine bob's join may be announced only now.
    error = await bob.recv(skip=("reaction:updated", "presence:diff"))
    assert error["type"] == "error" and error["code"] == "forbidden"

    await alice.send(type="message:delete", id=message_id)
    # The error is sent to bob directly, his reactions' broadcasts through the group: either may come first.
    deleted = await bob.recv(skip=("reaction:updated", "presence:diff"))
    assert deleted["type"] == "message:deleted" and deleted["id"] == message_id

    # Gone as itself, as over REST: reacting to or editing it again is not_found, and the socket stays.
    await bob.send(type="reaction:toggle", message=message_id, emoji="👍", ref="r1")
    error = await bob.recv()
    assert error["type"] == "error" and error["code"] == "not_found"
    await alice.send(type="message:edit", id=message_id, content="back", ref="e1")
    error = await alice.recv(skip=("message:deleted", "presence:diff"))
    assert error["type"] == "error" and error["code"] == "not_found"
    await bob.send(type="ping")
    assert (await bob.recv())["type"] == "pong"


async def test_typing_goes_to_others_only_and_expires(connect, people, channels_, settings):
    settings.TYPING_TTL_SECONDS = 0.5
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "community.typing": "100 per 1 second"}  # see the throttle test
    general = channels_["general"]
    alice, _ = await joined(connect, people["alice"], general)
    bob, _ = await joined(connect, people["bob"], general)
    await presence_diff(alice, joined="bob")
    await alice.send(type="typing:start", channel=str(general.pk))
    typing = await bob.recv()
    assert typing["type"] == "user:typing" and typing["typing"] is True and typing["user"]["username"] == "alice"
    assert await alice.expect_nothing()  # not echoed to the typist
    stopped = await bob.recv(timeout=3)
    assert stopped["type"] == "user:typing" and stopped["typing"] is False  # expired by itself

    await alice.send(type="typing:start", channel=str(general.pk))
    assert (await bob.recv())["typing"] is True
    await alice.send(type="typing:stop", channel=str(general.pk))
    assert (await bob.recv())["typing"] is False


@pytest.mark.parametrize(
    "frame, code",
    [
        ({"type": "channel:join"}, "missing_field"),
        ({"type": "channel:join", "channel": "nope"}, "not_found"),
        ({"type": "message:send", "content": "x"}, "missing_field"),
        ({"type": "message:edit", "id": "00000000-0000-0000-0000-000000000000", "content": "x"}, "not_found"),
        ({"type": "reaction:toggle", "message": "nope", "emoji": "👍"}, "not_found"),
        ({"type": "typing:start", "channel": "not-joined"}, "not_joined"),
        ({"type": "wat"}, "unknown_type"),
        ({"type": "message:send", "channel": 5, "content": "x"}, "missing_field"),
        ({"type": "reaction:toggle", "message": ["x"], "emoji": "👍"}, "missing_field"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_survives(connect, people, channels_, frame, code):
    socket = await connect(people["alice"])
    await socket.send(**frame, client_id="ref-1")
    error = await socket.recv()
    assert error["type"] == "error" and error["code"] == code and error["ref"] == "ref-1"
    await socket.send(type="ping")
    assert await socket.recv() == {"type": "pong"}


async def test_wrong_json_types_get_errors_not_a_dropped_socket(connect, people, channels_):
    general = channels_["general"]
    socket, _ = await joined(connect, people["alice"], general)
    for frame in [
        {"type": "message:send", "channel": str(general.pk), "content": 42},
        {"type": "message:send", "channel": str(general.pk), "content": "x", "client_id": 7},
        {"type": "message:send", "channel": str(general.pk), "content": "x", "content_type": ["code"]},
        {"type": "message:send", "channel": str(general.pk), "content": "x", "parent": 12},
        {"type": "message:send", "channel": str(general.pk), "content": "x", "attachments": "abc"},
        {"type": "message:edit", "id": "00000000-0000-0000-0000-000000000000", "content": None},
    ]:
        await socket.send(**frame)
        error = await socket.recv()
        assert error["type"] == "error" and error["code"] in {"invalid", "not_found"}, (frame, error)
    await socket.send(type="ping")
    assert await socket.recv() == {"type": "pong"}


async def test_content_errors(connect, people, channels_):
    general = channels_["general"]
    socket, _ = await joined(connect, people["alice"], general)
    await socket.send(type="message:send", channel=str(general.pk), content="x" * 4001, client_id="big")
    error = await socket.recv()
    assert error["code"] == "invalid" and "4000" in error["message"] and error["ref"] == "big"
    await socket.send(type="message:send", channel=str(general.pk), content="   ", client_id="empty")
    assert (await socket.recv())["code"] == "invalid"
    await socket.send(type="message:send", channel=str(general.pk), content="x", content_type="video")
    assert (await socket.recv())["code"] == "invalid"
    await socket.send_raw(json.dumps({"type": "message:send", "channel": str(general.pk), "content": "x" * 70_000}))
    assert (await socket.recv())["code"] == "frame_too_large"
    await socket.send_raw("{not json")
    assert (await socket.recv())["code"] == "bad_json"
    await socket.send(type="ping")
    assert await socket.recv() == {"type": "pong"}


@pytest.mark.parametrize(
    "who, channel, code",
    [
        ("alice", "private", "not_found"),
        ("alice", "locked", "forbidden"),
        ("alice", "archived", "forbidden"),
        ("alice", "read_only", "forbidden"),
        ("member", "private", None),
        ("staff", "locked", None),
        ("staff", "private", None),
    ],
)
async def test_channel_permissions_over_the_socket(connect, people, channels_, who, channel, code):
    socket = await connect(people[who])
    await socket.send(type="message:send", channel=str(channels_[channel].pk), content="hi", client_id="p")
    frame = await socket.recv()
    if code is None:
        assert frame["type"] == "ack"
    else:
        assert frame["type"] == "error" and frame["code"] == code


# The post rate is counted in fixed windows of the wall clock: with the clock standing still, no window
# ends between the messages of a test (at hh:mm:59.9 one would, and the count would start again).
@pytest.mark.time_machine(lambda: datetime.now(UTC), tick=False)
async def test_flooding_is_rate_limited_then_disconnected(connect, people, channels_, settings):
    settings.COMMUNITY_POST_RATE = {"messages": 3, "seconds": 60}
    settings.WS_FLOOD_STRIKES = 3
    general = channels_["general"]
    socket, _ = await joined(connect, people["alice"], general)
    acks, errors = 0, 0
    for index in range(6):
        await socket.send(type="message:send", channel=str(general.pk), content=f"spam {index}", client_id=str(index))
    while True:
        try:
            output = await socket.c.receive_output(timeout=2)
        except TimeoutError:
            break
        if output["type"] == "websocket.close":
            assert output["code"] == 4429
            break
        frame = json.loads(output["text"])
        acks += frame["type"] == "ack"
        errors += frame.get("code") == "rate_limited"
    assert acks == 3 and errors == 3
    assert await sync_to_async(Message.objects.count)() == 3


@pytest.mark.time_machine(lambda: datetime.now(UTC), tick=False)
async def test_rate_limit_is_per_user_across_connections(connect, people, channels_, settings):
    settings.COMMUNITY_POST_RATE = {"messages": 2, "seconds": 60}
    general = channels_["general"]
    tab1 = await connect(people["alice"])
    tab2 = await connect(people["alice"])
    await tab1.send(type="message:send", channel=str(general.pk), content="a")
    await tab2.send(type="message:send", channel=str(general.pk), content="b")
    await tab2.send(type="message:send", channel=str(general.pk), content="c", client_id="third")
    assert (await tab1.recv())["type"] == "ack"
    assert (await tab2.recv())["type"] == "ack"
    error = await tab2.recv()
    assert error["code"] == "rate_limited" and error["ref"] == "third"


async def test_message_sent_by_rest_reaches_websocket_clients(connect, people, channels_):
    from rest_framework.test import APIClient

    general = channels_["general"]
    bob, _ = await joined(connect, people["bob"], general)

    def post():
        client = APIClient()
        client.force_authenticate(people["alice"])
        return client.post(f"/api/community/channels/{general.pk}/messages/", {"content": "from a script"}, format="json")

    response = await sync_to_async(post)()
    assert response.status_code == 201
    frame = await bob.recv()
    assert frame["type"] == "message:new" and frame["message"]["content"] == "from a script"


async def test_notifications_reach_the_users_personal_group(connect, people):
    from accounts.notifications import notification_send

    socket = await connect(people["alice"])
    await sync_to_async(notification_send)(user=people["alice"], kind="budget_warning", title="80% used")
    frame = await socket.recv()
    assert frame["type"] == "notification" and frame["notification"]["title"] == "80% used"


async def test_concurrent_reaction_toggles_are_never_lost(people, channels_):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from community import services
    from tests.factories import UserFactory

    message = await sync_to_async(services.message_post)(actor=people["alice"], channel=channels_["general"], content="vote")
    voters = [await sync_to_async(UserFactory)() for _ in range(20)]

    def toggle(user):
        try:
            return services.reaction_toggle(actor=user, message=message, emoji="👍")
        finally:
            connections.close_all()

    def run():
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(toggle, voters))

    await sync_to_async(run)()
    assert await sync_to_async(Reaction.objects.filter(message=message, emoji="👍").count)() == 20
