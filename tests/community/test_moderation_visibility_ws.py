"""Content rules over the websocket: a block answers an ``error`` frame with the field's error; a shadowed
or held message or reply reaches its author's and staff sockets only, never the channel or topic."""

import pytest
from asgiref.sync import sync_to_async

from community import services
from community.models import Channel, Message
from moderation.models import ProfanityPattern
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def setup(transactional_db, settings):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}
    ProfanityPattern.objects.create(pattern="scam", action="block", category="fraud")
    ProfanityPattern.objects.create(pattern="vile", action="shadowban", category="abuse")
    ProfanityPattern.objects.create(pattern="hold", action="require_approval", category="links")
    ProfanityPattern.objects.create(pattern="darn", action="censor", category="language")


@pytest.fixture
def room(transactional_db):
    return {
        "channel": Channel.objects.create(name="general"),
        "forum": Channel.objects.create(name="help", type="forum"),
        "author": UserFactory(username="author"),
        "other": UserFactory(username="other"),
        "staff": StaffFactory(username="mod"),
    }


async def joined(connect, user, channel):
    socket = await connect(user)
    await socket.send(type="channel:join", channel=str(channel.pk))
    assert (await socket.recv())["type"] == "presence:sync"
    return socket


async def test_a_block_answers_an_error_frame_naming_the_category(connect, room):
    socket = await joined(connect, room["author"], room["channel"])
    await socket.send(type="message:send", channel=str(room["channel"].pk), content="a s c a m", client_id="c1")
    frame = await socket.recv()
    assert frame["type"] == "error" and frame["code"] == "invalid" and frame["ref"] == "c1"
    assert "fraud" in frame["message"] and "content" in frame["fields"]
    assert "scam" not in frame["message"]
    assert not await sync_to_async(Message.objects.exists)()


async def test_a_censored_message_is_broadcast_masked(connect, room):
    author = await joined(connect, room["author"], room["channel"])
    other = await joined(connect, room["other"], room["channel"])
    await author.send(type="message:send", channel=str(room["channel"].pk), content="oh darn", client_id="c1")
    assert (await other.recv())["message"]["content"] == "oh d***"


@pytest.mark.parametrize("content", ["vile", "hold on"])
async def test_content_kept_from_others_reaches_only_its_author_and_staff(connect, room, content):
    author = await joined(connect, room["author"], room["channel"])
    author_tab2 = await joined(connect, room["author"], room["channel"])
    other = await joined(connect, room["other"], room["channel"])
    staff = await joined(connect, room["staff"], room["channel"])
    for _ in range(3):  # presence frames of the later joins
        await other.expect_nothing(0.05)
    await author.send(type="message:send", channel=str(room["channel"].pk), content=content, client_id="c1")
    frames = [await author.recv(skip=("presence:diff",)), await author.recv(skip=("presence:diff",))]
    assert {f["type"] for f in frames} == {"message:new", "ack"}
    new = next(f for f in frames if f["type"] == "message:new")
    assert new["message"]["content"] == content  # the author sees it as everyone's
    assert (await author_tab2.recv())["type"] == "message:new"
    assert (await staff.recv())["type"] == "message:new"
    await staff.expect_nothing()  # once, not once per group
    await other.expect_nothing()
    # The edit and the delete stay between the author and staff too.
    await author.send(type="message:edit", id=new["message"]["id"], content=content + " again")
    assert (await author.recv())["type"] == "message:edited"
    assert (await staff.recv())["type"] == "message:edited"
    await author.send(type="message:delete", id=new["message"]["id"])
    assert (await author.recv())["type"] == "message:deleted"
    assert (await staff.recv())["type"] == "message:deleted"
    await other.expect_nothing()


async def test_a_staff_author_gets_one_copy(connect, room):
    staff = await joined(connect, room["staff"], room["channel"])
    await staff.send(type="message:send", channel=str(room["channel"].pk), content="vile", client_id="c1")
    frames = [await staff.recv(), await staff.recv()]
    assert sorted(f["type"] for f in frames) == ["ack", "message:new"]
    await staff.expect_nothing()


async def test_other_users_cannot_act_on_a_shadowed_message(connect, room):
    message = await sync_to_async(services.message_post)(actor=room["author"], channel=room["channel"], content="vile")
    other = await connect(room["other"])
    await other.send(type="reaction:toggle", message=str(message.pk), emoji="👍")
    assert (await other.recv())["code"] == "not_found"
    await other.send(type="message:send", channel=str(room["channel"].pk), parent=str(message.pk), content="hi")
    assert (await other.recv())["code"] == "not_found"


async def test_forum_replies_kept_from_others(connect, room):
    post = await sync_to_async(services.forum_post_create)(actor=room["other"], channel=room["forum"], title="Q", content="?")
    sockets = {}
    for name in ("author", "other", "staff"):
        sockets[name] = await connect(room[name])
        await sockets[name].send(type="forum:watch", post=str(post.pk))
        assert (await sockets[name].recv())["type"] == "forum:watching"
    reply = await sync_to_async(services.forum_reply_create)(actor=room["author"], post=post, content="vile")
    assert (await sockets["author"].recv())["reply"]["id"] == str(reply.pk)
    assert (await sockets["staff"].recv())["reply"]["id"] == str(reply.pk)
    await sockets["other"].expect_nothing()
    visible = await sync_to_async(services.forum_reply_create)(actor=room["author"], post=post, content="fine")
    for name in ("author", "other", "staff"):
        assert (await sockets[name].recv())["reply"]["id"] == str(visible.pk)
    # A topic only its author sees cannot be watched by others.
    hidden = await sync_to_async(services.forum_post_create)(actor=room["author"], channel=room["forum"], title="t",
                                                             content="vile")
    await sockets["other"].send(type="forum:watch", post=str(hidden.pk))
    # (skipping the notification of the visible reply to their topic)
    assert (await sockets["other"].recv(skip=("notification",)))["code"] == "not_found"
    await sockets["author"].send(type="forum:watch", post=str(hidden.pk))
    assert (await sockets["author"].recv())["type"] == "forum:watching"
