"""The rules every community notification follows, whatever the event (mention, reply, solution,
reaction): one notification per event, none for your own actions, none from a user you muted."""

import pytest

from accounts.models import Notification
from accounts.services import user_mute, user_unmute
from community import services
from community.models import Channel, ChannelType

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_post_limit(settings):
    settings.COMMUNITY_POST_RATE = {"messages": 1000, "seconds": 1}


@pytest.fixture
def forum(db):
    return Channel.objects.create(name="help", type=ChannelType.FORUM)


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """``run(fn, **kwargs)``: calls a service and what waits for its commit (the notifications)."""

    def call(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return call


def _kinds(user):
    return sorted(Notification.objects.filter(user=user).values_list("kind", flat=True))


def _everything_bob_does_to_alice(run, people, channels_, forum, *, by):
    """Every kind of event ``by`` can cause for alice: a chat mention, a topic mention, a reply to her
    topic, a solution chosen on her answer, reactions to her message, topic and reply."""
    alice, staff = people["alice"], people["staff"]
    message = run(services.message_post, actor=alice, channel=channels_["general"], content="hello")
    topic = run(services.forum_post_create, actor=alice, channel=forum, title="Alice asks", content="?")
    other_topic = run(services.forum_post_create, actor=staff, channel=forum, title="Staff asks", content="?")
    answer = run(services.forum_reply_create, actor=alice, post=other_topic, content="Try this")
    run(services.message_post, actor=by, channel=channels_["general"], content="@alice look")
    run(services.forum_post_create, actor=by, channel=forum, title="By bob", content="cc @alice")
    run(services.forum_reply_create, actor=by, post=topic, content="An answer")
    run(services.reaction_toggle, actor=by, message=message, emoji="👍")
    run(services.forum_reaction_toggle, actor=by, target=topic, emoji="👍")
    run(services.forum_reaction_toggle, actor=by, target=answer, emoji="👍")
    return answer


def test_a_muted_user_causes_no_notification_of_any_kind(run, people, channels_, forum):
    alice, bob, staff = people["alice"], people["bob"], people["staff"]
    user_mute(actor=alice, muted=bob)
    user_mute(actor=alice, muted=staff)  # staff choose the solution below
    answer = _everything_bob_does_to_alice(run, people, channels_, forum, by=bob)
    run(services.forum_solution_mark, actor=staff, reply=answer)
    assert _kinds(alice) == []


def test_the_same_events_from_someone_not_muted_do_notify(run, people, channels_, forum):
    alice, bob, staff = people["alice"], people["bob"], people["staff"]
    user_mute(actor=alice, muted=bob)
    user_unmute(actor=alice, muted=bob)
    answer = _everything_bob_does_to_alice(run, people, channels_, forum, by=bob)
    run(services.forum_solution_mark, actor=staff, reply=answer)
    assert _kinds(alice) == [
        "forum_reply",
        "forum_solution",
        "mention",
        "mention",
        "reaction",
        "reaction",
        "reaction",
    ]


def test_muting_is_one_way(run, people, channels_):
    alice, bob = people["alice"], people["bob"]
    user_mute(actor=alice, muted=bob)
    run(services.message_post, actor=alice, channel=channels_["general"], content="@bob hi")
    assert _kinds(bob) == ["mention"]


def test_your_own_actions_never_notify_you(run, people, channels_, forum):
    alice = people["alice"]
    message = run(services.message_post, actor=alice, channel=channels_["general"], content="me: @alice")
    topic = run(services.forum_post_create, actor=alice, channel=forum, title="Mine", content="@alice note")
    reply = run(services.forum_reply_create, actor=alice, post=topic, content="@alice self-answer")
    run(services.forum_solution_mark, actor=alice, reply=reply)
    run(services.reaction_toggle, actor=alice, message=message, emoji="👍")
    run(services.forum_reaction_toggle, actor=alice, target=topic, emoji="👍")
    run(services.forum_reaction_toggle, actor=alice, target=reply, emoji="👍")
    assert _kinds(alice) == []


def test_one_event_makes_one_notification(run, people, channels_, forum):
    alice, bob, staff = people["alice"], people["bob"], people["staff"]
    topic = run(services.forum_post_create, actor=alice, channel=forum, title="Q", content="?")
    # A reply to alice's topic that names her twice: the reply notification covers the mention.
    reply = run(services.forum_reply_create, actor=alice, post=topic, content="my own answer")
    run(services.forum_reply_create, actor=bob, post=topic, content="@alice @Alice see above")
    assert _kinds(alice) == ["forum_reply"]
    # Staff choose alice's own reply on her own topic: she is told once, not as author and as answerer.
    run(services.forum_solution_mark, actor=staff, reply=reply)
    assert _kinds(alice) == ["forum_reply", "forum_solution"]
    # Two emoji from one person on one reply: one reaction notification naming them once.
    run(services.forum_reaction_toggle, actor=bob, target=reply, emoji="👍")
    run(services.forum_reaction_toggle, actor=bob, target=reply, emoji="🎉")
    [reaction] = Notification.objects.filter(user=alice, kind="reaction")
    assert reaction.data["names"] == ["bob"] and reaction.data["count"] == 1
    # An edit that keeps a mention does not mention again.
    message = run(services.message_post, actor=bob, channel=channels_["general"], content="@alice hi")
    run(services.message_edit, actor=bob, message=message, content="@alice hi again")
    assert _kinds(alice).count("mention") == 1
