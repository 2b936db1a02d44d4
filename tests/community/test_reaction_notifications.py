"""A reaction to your chat message, forum topic or reply notifies you, grouped: one unread notification
per target that names the reactors and is updated (and pushed again) while unread; once read, the next
reaction starts a new one. Never for your own reaction, for a removal, from a user you muted, or when you
can no longer see the place."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from accounts.models import Notification, UserMute
from accounts.services import notifications_mark_read, user_mute
from community import services
from community.models import Channel, ChannelMember, ChannelType, ForumPost, Message
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_post_limit(settings):
    settings.COMMUNITY_POST_RATE = {"messages": 1000, "seconds": 1}


@pytest.fixture
def react(django_capture_on_commit_callbacks):
    """``react(user, message, emoji)``: toggles a chat reaction, running what waits for the commit."""

    def toggle(user, target, emoji="👍"):
        with django_capture_on_commit_callbacks(execute=True):
            if isinstance(target, Message):
                return services.reaction_toggle(actor=user, message=target, emoji=emoji)
            return services.forum_reaction_toggle(actor=user, target=target, emoji=emoji)

    return toggle


@pytest.fixture
def message(people, channels_, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.message_post(
            actor=people["alice"], channel=channels_["general"], content="Shipped it"
        )


def _reactions(user):
    return list(Notification.objects.filter(user=user, kind="reaction").order_by("created_at"))


def test_reactions_to_a_message_are_grouped_while_unread(people, message, react):
    alice, bob, member, staff = people["alice"], people["bob"], people["member"], people["staff"]
    react(bob, message)
    [notice] = _reactions(alice)
    assert notice.title == "@bob reacted to your message in #general" and notice.data["count"] == 1
    react(member, message, "🎉")
    react(staff, message)
    react(bob, message, "❤️")  # bob again, another emoji: not a new reactor
    [notice] = _reactions(alice)
    assert notice.title == "@mod and 2 others reacted to your message in #general"
    assert notice.data["names"] == ["mod", "member", "bob"] and notice.data["count"] == 3
    assert notice.url == "/community/" and notice.body == "Shipped it"


def test_two_reactors_are_both_named(people, message, react):
    react(people["bob"], message)
    react(people["member"], message)
    [notice] = _reactions(people["alice"])
    assert notice.title == "@member and @bob reacted to your message in #general"


def test_once_read_the_next_reaction_starts_a_new_notification(people, message, react):
    alice = people["alice"]
    react(people["bob"], message)
    notifications_mark_read(user=alice)
    react(people["member"], message)
    first, second = _reactions(alice)
    assert first.read_at is not None and second.read_at is None
    assert second.title == "@member reacted to your message in #general"


@pytest.mark.django_db(transaction=True)
async def test_each_update_is_pushed_live_with_the_same_id(people, channels_, connect):
    alice = await connect(people["alice"])  # her socket is on her personal group: not in the channel
    message = await sync_to_async(services.message_post)(
        actor=people["alice"], channel=channels_["general"], content="Shipped it"
    )
    await sync_to_async(services.reaction_toggle)(actor=people["bob"], message=message, emoji="👍")
    first = (await alice.recv(skip=("presence:diff", "presence:sync")))["notification"]
    await sync_to_async(services.reaction_toggle)(actor=people["member"], message=message, emoji="🎉")
    second = (await alice.recv(skip=("presence:diff", "presence:sync")))["notification"]
    assert first["id"] == second["id"] and first["kind"] == "reaction"
    assert second["title"] == "@member and @bob reacted to your message in #general"
    assert second["data"]["count"] == 2


def test_no_notification_for_your_own_reaction_nor_for_removing_one(people, message, react):
    alice, bob = people["alice"], people["bob"]
    react(alice, message)
    assert _reactions(alice) == []
    react(bob, message)
    notifications_mark_read(user=alice)
    react(bob, message)  # removes bob's reaction
    assert len(_reactions(alice)) == 1


def test_none_from_a_muted_user(people, message, react):
    alice = people["alice"]
    UserMute.objects.create(user=alice, muted=people["bob"])
    react(people["bob"], message)
    assert _reactions(alice) == []
    react(people["member"], message)
    [notice] = _reactions(alice)
    assert notice.data["names"] == ["member"]


def test_none_once_the_author_cannot_see_the_channel(
    people, channels_, react, django_capture_on_commit_callbacks
):
    member, staff = people["member"], people["staff"]
    with django_capture_on_commit_callbacks(execute=True):
        secret = services.message_post(actor=member, channel=channels_["private"], content="inner")
    ChannelMember.objects.filter(user=member, channel=channels_["private"]).delete()
    react(
        staff, Message.objects.get(pk=secret.pk)
    )  # as a request loads it: no membership cached from the post
    assert _reactions(member) == []


def test_forum_topics_and_replies_each_have_their_group(people, react, django_capture_on_commit_callbacks):
    alice, bob, member = people["alice"], people["bob"], people["member"]
    forum = Channel.objects.create(name="questions", type=ChannelType.FORUM)
    with django_capture_on_commit_callbacks(execute=True):
        post = services.forum_post_create(actor=alice, channel=forum, title="Deploys", content="How?")
        reply = services.forum_reply_create(actor=alice, post=post, content="Found it")
    react(bob, post)
    react(member, post)
    react(bob, reply)
    topic_notice, reply_notice = _reactions(alice)
    assert topic_notice.title == "@member and @bob reacted to your topic “Deploys”"
    assert reply_notice.title == "@bob reacted to your reply in “Deploys”"
    assert topic_notice.url == reply_notice.url == post.get_absolute_url()


def test_none_for_a_forum_the_author_can_no_longer_see(people, react, django_capture_on_commit_callbacks):
    member, staff = people["member"], people["staff"]
    hidden = Channel.objects.create(name="inner-forum", type=ChannelType.FORUM, is_private=True)
    ChannelMember.objects.create(channel=hidden, user=member)
    with django_capture_on_commit_callbacks(execute=True):
        post = services.forum_post_create(actor=member, channel=hidden, title="Inner", content="x")
    ChannelMember.objects.filter(channel=hidden, user=member).delete()
    react(staff, ForumPost.objects.get(pk=post.pk))
    assert _reactions(member) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="races need concurrent writers (PostgreSQL; CI runs it)"
)
def test_simultaneous_reactions_make_one_notification_counting_everyone(reference_data):
    author = UserFactory(username="author")
    channel = Channel.objects.create(name="general")
    message = services.message_post(actor=author, channel=channel, content="Big news")
    reactors = [UserFactory() for _ in range(8)]
    user_mute(actor=author, muted=reactors[0])
    barrier = threading.Barrier(len(reactors))

    def react(user):
        try:
            barrier.wait(timeout=10)
            return services.reaction_toggle(actor=user, message=message, emoji="🚀")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(reactors)) as pool:
        results = list(pool.map(react, reactors))
    assert [added for added, _ in results] == [True] * 8
    [notice] = Notification.objects.filter(user=author, kind="reaction")
    assert notice.data["count"] == 7 and sorted(notice.data["names"]) == sorted(
        u.username for u in reactors[1:]
    )
