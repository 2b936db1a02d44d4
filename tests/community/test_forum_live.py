"""Live forum topics over ``/ws/``: ``forum:watch``/``forum:unwatch``, the ``forum:reply`` and
``forum:reply_updated`` frames, and watching ending with access."""

import pytest
from asgiref.sync import sync_to_async

from community import consumers, selectors, services
from community.models import Channel, ChannelMember
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_post_limit(settings):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}


@pytest.fixture
def forum(db):
    public = Channel.objects.create(name="help", type="forum")
    private = Channel.objects.create(name="staff-forum", type="forum", is_private=True)
    author, reader, member = (
        UserFactory(username="author"),
        UserFactory(username="reader"),
        UserFactory(username="member"),
    )
    ChannelMember.objects.create(channel=private, user=member)
    post = services.forum_post_create(actor=author, channel=public, title="Deploying", content="How?")
    secret = services.forum_post_create(actor=member, channel=private, title="Budget", content="Numbers.")
    return {
        "public": public,
        "private": private,
        "author": author,
        "reader": reader,
        "member": member,
        "staff": StaffFactory(username="mod"),
        "post": post,
        "secret": secret,
    }


async def watching(connect, user, post):
    socket = await connect(user)
    await socket.send(type="forum:watch", post=str(post.pk))
    frame = await socket.recv()
    assert frame == {"type": "forum:watching", "post": str(post.pk), "reply_count": post.reply_count}
    return socket


def _reply(user, post_id, content):
    post = selectors.forum_post_get_visible(user=user, post_id=post_id)
    return services.forum_reply_create(actor=user, post=post, content=content)


async def test_a_watcher_sees_a_new_reply_with_the_apis_payload(connect, forum):
    socket = await watching(connect, forum["reader"], forum["post"])
    reply = await sync_to_async(_reply)(
        forum["author"], forum["post"].pk, "Use **daphne** <script>x</script>"
    )
    frame = await socket.recv()
    assert frame["type"] == "forum:reply" and frame["post"] == str(forum["post"].pk)
    payload = frame["reply"]
    assert payload["id"] == str(reply.pk) and payload["author"]["username"] == "author"
    assert payload["content"] == "Use **daphne** <script>x</script>"
    assert "<strong>daphne</strong>" in payload["content_html"] and "<script>" not in payload["content_html"]
    # The same shape as the REST API's reply, less the viewer's can_* flags.
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(forum["reader"])
    api = (await sync_to_async(client.get)(f"/api/forum/replies/{reply.pk}/")).json()
    assert {k: v for k, v in api.items() if not k.startswith("can_")} == payload


async def test_edits_deletes_and_solutions_arrive_as_reply_updated(connect, forum):
    socket = await watching(connect, forum["reader"], forum["post"])
    reply = await sync_to_async(_reply)(forum["reader"], forum["post"].pk, "First try.")
    assert (await socket.recv())["type"] == "forum:reply"
    await sync_to_async(services.forum_reply_edit)(actor=forum["reader"], reply=reply, content="Second try.")
    edited = await socket.recv()
    assert (edited["type"], edited["reply"]["content"]) == ("forum:reply_updated", "Second try.")
    await sync_to_async(services.forum_solution_mark)(actor=forum["author"], reply=reply)
    assert (await socket.recv(skip=("notification",)))["reply"]["is_solution"] is True
    await sync_to_async(services.forum_reply_delete)(actor=forum["reader"], reply=reply)
    deleted = await socket.recv(skip=("notification",))  # the solution notified the reply's author
    assert deleted["reply"]["deleted"] is True and deleted["reply"]["content"] == ""


async def test_a_topic_not_watched_sends_nothing(connect, forum):
    other = await sync_to_async(services.forum_post_create)(
        actor=forum["author"], channel=forum["public"], title="Other", content="Text."
    )
    socket = await watching(connect, forum["reader"], other)
    await sync_to_async(_reply)(forum["author"], forum["post"].pk, "Elsewhere.")
    assert await socket.expect_nothing()


@pytest.mark.parametrize("post_id", ["secret", "unknown", "not-a-uuid"])
async def test_watching_a_topic_you_cannot_read_is_not_found(connect, forum, post_id):
    socket = await connect(forum["reader"])
    target = {"secret": str(forum["secret"].pk), "unknown": "00000000-0000-0000-0000-000000000000"}.get(
        post_id, post_id
    )
    await socket.send(type="forum:watch", post=target)
    frame = await socket.recv()
    assert (frame["type"], frame["code"]) == ("error", "not_found")
    await sync_to_async(_reply)(forum["member"], forum["secret"].pk, "Internal.")
    assert await socket.expect_nothing()


async def test_a_member_may_watch_a_private_topic(connect, forum):
    socket = await watching(connect, forum["member"], forum["secret"])
    await sync_to_async(_reply)(forum["staff"], forum["secret"].pk, "Noted.")
    assert (await socket.recv())["type"] == "forum:reply"


async def test_a_watch_frame_without_a_post_is_refused(connect, forum):
    socket = await connect(forum["reader"])
    await socket.send(type="forum:watch")
    frame = await socket.recv()
    assert (frame["type"], frame["code"]) == ("error", "missing_field")


async def test_unwatching_stops_the_frames(connect, forum):
    socket = await watching(connect, forum["reader"], forum["post"])
    await socket.send(type="forum:unwatch", post=str(forum["post"].pk))
    assert await socket.recv() == {"type": "forum:unwatched", "post": str(forum["post"].pk)}
    await sync_to_async(_reply)(forum["author"], forum["post"].pk, "Anyone?")
    assert await socket.expect_nothing()


async def test_a_socket_watches_a_limited_number_of_topics(connect, forum, monkeypatch):
    monkeypatch.setattr(consumers, "MAX_WATCHED_TOPICS", 2)
    posts = [
        await sync_to_async(services.forum_post_create)(
            actor=forum["author"], channel=forum["public"], title=f"T{n}", content="x"
        )
        for n in range(3)
    ]
    socket = await connect(forum["reader"])
    for post in posts[:2]:
        await socket.send(type="forum:watch", post=str(post.pk))
        assert (await socket.recv())["type"] == "forum:watching"
    await socket.send(type="forum:watch", post=str(posts[0].pk))  # again: no new slot needed
    assert (await socket.recv())["type"] == "forum:watching"
    await socket.send(type="forum:watch", post=str(posts[2].pk))
    frame = await socket.recv()
    assert (frame["type"], frame["code"]) == ("error", "too_many")
    await socket.send(type="forum:unwatch", post=str(posts[0].pk))
    await socket.recv()
    await socket.send(type="forum:watch", post=str(posts[2].pk))
    assert (await socket.recv())["type"] == "forum:watching"


async def test_a_removed_member_stops_getting_the_topics_frames(connect, forum):
    socket = await watching(connect, forum["member"], forum["secret"])
    await sync_to_async(services.channel_member_remove)(
        actor=forum["staff"], channel=forum["private"], user=forum["member"]
    )
    removed = await socket.recv()
    assert removed["type"] == "forum:removed" and removed["post"] == str(forum["secret"].pk)
    await sync_to_async(_reply)(forum["staff"], forum["secret"].pk, "After you left.")
    assert await socket.expect_nothing()


async def test_a_forum_made_private_stops_the_frames_of_non_members(connect, forum):
    reader = await watching(connect, forum["reader"], forum["post"])
    staff = await watching(connect, forum["staff"], forum["post"])
    await sync_to_async(services.channel_update)(
        actor=forum["staff"], channel=forum["public"], data={"is_private": True}
    )
    assert (await reader.recv())["type"] == "forum:removed"
    await sync_to_async(_reply)(forum["staff"], forum["post"].pk, "Only staff now.")
    assert (await staff.recv())["type"] == "forum:reply"  # staff still see it
    assert await reader.expect_nothing()


async def test_the_heartbeat_safety_net_unwatches_after_a_change_behind_the_services(
    connect, forum, settings
):
    settings.PRESENCE_HEARTBEAT_SECONDS = 0.2
    socket = await watching(connect, forum["member"], forum["secret"])
    await sync_to_async(ChannelMember.objects.filter(user=forum["member"]).delete)()  # a shell, no event
    removed = await socket.recv(timeout=5)
    assert removed["type"] == "forum:removed"
