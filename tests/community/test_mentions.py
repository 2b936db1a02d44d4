"""@mentions in chat and the forum notify the people named, only if they can see the place, never the
author, once per message, and not again when an edit keeps the name."""

import pytest

from accounts.models import Notification
from community import services
from community.mentions import mentioned_usernames
from community.models import Channel, ChannelType

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_post_limit(settings):
    settings.COMMUNITY_POST_RATE = {"messages": 1000, "seconds": 1}


def _mentions(user):
    return list(Notification.objects.filter(user=user, kind="mention"))


def test_handles_are_found_once_outside_code_and_emails():
    text = "Hi @Alice and @bob, @alice again; mail me@bob.com, see `@carol` and ```\n@dave\n``` @x @erin."
    assert mentioned_usernames(text) == ["alice", "bob", "erin"]


def test_a_chat_mention_notifies_the_named_user_once(people, channels_, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(actor=people["bob"], channel=channels_["general"], content="@alice @ALICE look")
    [notice] = _mentions(people["alice"])
    assert notice.title == "@bob mentioned you in #general" and notice.data == {"by": "bob"}


def test_no_notification_for_your_own_name_or_an_unknown_one(people, channels_, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(actor=people["bob"], channel=channels_["general"], content="@bob @nobody-here")
    assert not Notification.objects.filter(kind="mention").exists()


def test_a_mention_in_a_private_channel_never_reaches_a_non_member(people, channels_, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(actor=people["member"], channel=channels_["private"], content="@alice @mod secret plan")
    assert _mentions(people["alice"]) == []  # not a member: the private text stays private
    assert len(_mentions(people["staff"])) == 1  # staff see every channel


def test_an_edit_notifies_only_names_it_adds(people, channels_, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_post(actor=people["bob"], channel=channels_["general"], content="hi @alice")
    with django_capture_on_commit_callbacks(execute=True):
        services.message_edit(actor=people["bob"], message=message, content="hi @alice and @member")
    assert len(_mentions(people["alice"])) == 1 and len(_mentions(people["member"])) == 1


def test_forum_topics_and_replies_notify_who_can_see_them(people, django_capture_on_commit_callbacks):
    public = Channel.objects.create(name="questions", type=ChannelType.FORUM)
    hidden = Channel.objects.create(name="inner-forum", type=ChannelType.FORUM, is_private=True)
    with django_capture_on_commit_callbacks(execute=True):
        post = services.forum_post_create(actor=people["bob"], channel=public, title="Deploys", content="@alice ideas?")
        services.forum_reply_create(actor=people["staff"], post=post, content="@alice @bob try this")
        secret = services.forum_post_create(actor=people["staff"], channel=hidden, title="Inner", content="@alice x")
    assert [n.title for n in _mentions(people["alice"])].count("@bob mentioned you in “Deploys”") == 1
    assert len(_mentions(people["alice"])) == 2  # the topic and the reply; not the private forum
    # Bob's own topic: the reply naming him is one "forum_reply" notification, not a mention as well.
    assert list(Notification.objects.filter(user=people["bob"]).values_list("kind", flat=True)) == ["forum_reply"]
    assert secret.pk and all("Inner" not in n.title for n in _mentions(people["alice"]))


def test_a_reply_notifies_the_topic_author_once_and_a_solution_both_people(people, django_capture_on_commit_callbacks):
    forum = Channel.objects.create(name="help", type=ChannelType.FORUM)
    alice, bob, staff = people["alice"], people["bob"], people["staff"]
    with django_capture_on_commit_callbacks(execute=True):
        post = services.forum_post_create(actor=alice, channel=forum, title="Stuck", content="Help")
        services.forum_reply_create(actor=alice, post=post, content="more detail")  # your own reply: nothing
        reply = services.forum_reply_create(actor=bob, post=post, content="@alice try restarting")
    kinds = list(Notification.objects.filter(user=alice).values_list("kind", flat=True))
    assert kinds == ["forum_reply"]  # the reply and the mention in it are one event: one notification
    with django_capture_on_commit_callbacks(execute=True):
        services.forum_solution_mark(actor=staff, reply=reply)
        services.forum_solution_mark(actor=staff, reply=reply)  # already the solution: nothing new
    assert Notification.objects.filter(user=alice, kind="forum_solution").count() == 1
    assert Notification.objects.filter(user=bob, kind="forum_solution").count() == 1
    assert not Notification.objects.filter(user=staff).exists()
