"""Moderation state changes through ``community.services.content_moderation_state_set``: approving rule-held
content shows it, auto-hide and approve move the counters and the search index, a thread reply edited into
``shadowed`` lowers its thread's count, new accounts' reports do not hide, and the frames others get."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from agentwise.errors import Forbidden
from community import services
from community.models import Channel, ForumPost, ForumReply, Message, ModerationState
from moderation import reports
from moderation.models import DecisionKind, ModerationDecision, ModerationItem, ProfanityPattern
from tests.factories import StaffFactory, UserFactory
from tests.moderation import reports_support
from tests.moderation.reports_support import client_for, message_by, reply_by, topic_by

place, crowd = reports_support.place, reports_support.crowd  # fixtures


@pytest.fixture(autouse=True)
def patterns(db, settings):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}
    settings.MODERATION_AUTO_HIDE_REPORTS = 3
    ProfanityPattern.objects.create(pattern="hold", action="require_approval", category="links")
    ProfanityPattern.objects.create(pattern="vile", action="shadowban", category="abuse")


def report(user, content_type, content_id):
    response = client_for(user).post("/api/reports/", {"content_type": content_type, "content_id": str(content_id),
                                                       "reason": "spam"}, format="json")
    assert response.status_code in (200, 201), response.content
    return response


def approve(staff, content_type, content_id):
    return reports.item_resolve(actor=staff, content_type=content_type, content_id=content_id, outcome="approve")


def history_ids(user, channel):
    return [m["id"] for m in client_for(user).get(f"/api/community/channels/{channel.pk}/messages/").json()["results"]]


def thread_ids(user, root):
    return [m["id"] for m in client_for(user).get(f"/api/community/messages/{root.pk}/thread/").json()["results"]]


@pytest.mark.django_db
def test_approving_a_rule_held_message_shows_it_to_others(crowd, place):
    root = message_by(crowd["alice"], place["chat"], "root")
    held = services.message_post(actor=crowd["author"], channel=place["chat"], content="hold this", parent=root)
    assert held.moderation_state == ModerationState.PENDING
    assert ModerationItem.objects.filter(content_type="message", content_id=str(held.pk), status="pending").exists()
    assert str(held.pk) not in thread_ids(crowd["bob"], root)
    root.refresh_from_db()
    assert root.reply_count == 0

    approve(crowd["staff"], "message", held.pk)
    held.refresh_from_db()
    assert held.moderation_state == ModerationState.VISIBLE
    assert str(held.pk) in thread_ids(crowd["bob"], root)
    root.refresh_from_db()
    assert root.reply_count == 1 and root.last_reply_at == held.created_at
    # A top-level held message too, in the channel's history.
    top = message_by(crowd["author"], place["chat"], "hold on")
    assert str(top.pk) not in history_ids(crowd["bob"], place["chat"])
    approve(crowd["staff"], "message", top.pk)
    assert str(top.pk) in history_ids(crowd["bob"], place["chat"])


@pytest.mark.django_db
def test_approve_leaves_a_shadowban_shadowed(crowd, place):
    shadowed = message_by(crowd["author"], place["chat"], "vile")
    report(crowd["staff"], "message", shadowed.pk)  # only its author and staff see it
    approve(crowd["staff"], "message", shadowed.pk)
    assert Message.objects.get(pk=shadowed.pk).moderation_state == ModerationState.SHADOWED


def topic_found(user, word) -> bool:
    return bool(client_for(user).get("/api/forum/posts/", {"q": word}).json()["results"])


@pytest.mark.django_db
def test_a_reply_hidden_by_reports_leaves_the_counters_and_the_search_and_comes_back_on_approve(crowd, place):
    post = topic_by(crowd["alice"], place["forum"], "Question", "how do I")
    earlier = reply_by(crowd["bob"], post, "try restarting")
    answer = reply_by(crowd["author"], post, "zebracorn answer")
    post.refresh_from_db()
    assert post.reply_count == 2 and post.last_reply_at == answer.created_at
    postgres = connection.vendor == "postgresql"
    if postgres:
        assert topic_found(crowd["carol"], "zebracorn")
    for name in ("alice", "bob", "carol"):
        report(crowd[name], "forum_reply", answer.pk)
    assert ForumReply.objects.get(pk=answer.pk).moderation_state == ModerationState.HIDDEN
    assert ModerationDecision.objects.filter(kind=DecisionKind.HIDE, content_id=str(answer.pk)).count() == 1
    post.refresh_from_db()
    assert post.reply_count == 1 and post.last_reply_at == earlier.created_at
    replies = client_for(crowd["carol"]).get(f"/api/forum/posts/{post.pk}/replies/").json()["results"]
    assert [r["id"] for r in replies] == [str(earlier.pk)]
    if postgres:
        assert not topic_found(crowd["carol"], "zebracorn")
        assert topic_found(crowd["carol"], "restarting")

    approve(crowd["staff"], "forum_reply", answer.pk)
    post.refresh_from_db()
    assert post.reply_count == 2 and post.last_reply_at == answer.created_at
    assert ForumReply.objects.get(pk=answer.pk).moderation_state == ModerationState.VISIBLE
    if postgres:
        assert topic_found(crowd["carol"], "zebracorn")


@pytest.mark.django_db
def test_a_thread_reply_hidden_by_reports_lowers_the_thread_count(crowd, place):
    root = message_by(crowd["alice"], place["chat"], "root")
    answer = services.message_post(actor=crowd["author"], channel=place["chat"], content="answer", parent=root)
    for name in ("alice", "bob", "carol"):
        report(crowd[name], "message", answer.pk)
    root.refresh_from_db()
    assert root.reply_count == 0 and root.last_reply_at is None
    approve(crowd["staff"], "message", answer.pk)
    root.refresh_from_db()
    assert root.reply_count == 1


@pytest.mark.django_db
def test_a_thread_reply_edited_into_shadowed_lowers_the_thread_count(crowd, place):
    root = message_by(crowd["alice"], place["chat"], "root")
    first = services.message_post(actor=crowd["bob"], channel=place["chat"], content="first", parent=root)
    second = services.message_post(actor=crowd["author"], channel=place["chat"], content="second", parent=root)
    root.refresh_from_db()
    assert root.reply_count == 2
    services.message_edit(actor=crowd["author"], message=second, content="vile now")
    assert Message.objects.get(pk=second.pk).moderation_state == ModerationState.SHADOWED
    root.refresh_from_db()
    assert root.reply_count == 1 and root.last_reply_at == first.created_at
    response = client_for(crowd["carol"]).get(f"/api/community/messages/{root.pk}/").json()
    assert response["reply_count"] == 1


@pytest.mark.django_db
def test_new_accounts_reports_queue_but_do_not_hide(crowd, place, settings):
    settings.MODERATION_NEW_USER_DAYS = 3
    fresh = [UserFactory(username=f"fresh{i}", date_joined=timezone.now() - timedelta(hours=1)) for i in range(3)]
    message = message_by(crowd["author"], place["chat"], "fine words")
    for user in fresh:
        report(user, "message", message.pk)
    assert ModerationItem.objects.filter(content_id=str(message.pk), status="pending").count() == 3
    assert Message.objects.get(pk=message.pk).moderation_state == ModerationState.VISIBLE
    assert not ModerationDecision.objects.filter(kind=DecisionKind.HIDE).exists()
    # Established members still count: two of them with the fresh three are not enough, three are.
    report(crowd["alice"], "message", message.pk)
    report(crowd["bob"], "message", message.pk)
    assert Message.objects.get(pk=message.pk).moderation_state == ModerationState.VISIBLE
    report(crowd["carol"], "message", message.pk)
    assert Message.objects.get(pk=message.pk).moderation_state == ModerationState.HIDDEN
    decision = ModerationDecision.objects.get(kind=DecisionKind.HIDE)
    assert decision.report_count == 6 and decision.reason == "Reported by 3 members"


@pytest.mark.django_db
def test_the_state_service_is_staff_only(crowd, place):
    message = message_by(crowd["author"], place["chat"])
    with pytest.raises(Forbidden):
        services.content_moderation_state_set(actor=crowd["alice"], obj=message, state=ModerationState.HIDDEN)
    assert Message.objects.get(pk=message.pk).moderation_state == ModerationState.VISIBLE
    with pytest.raises(ValidationError):
        services.content_moderation_state_set(actor=crowd["staff"], obj=message, state="gone")
    assert services.content_moderation_state_set(actor=crowd["staff"], obj=message, state=ModerationState.HIDDEN)
    assert not services.content_moderation_state_set(actor=crowd["staff"], obj=message, state=ModerationState.HIDDEN)


# --- Frames ----------------------------------------------------------------------------------------------

from tests.community.conftest import connect  # noqa: E402, F401  (the websocket fixture)


async def joined(connect, user, channel):  # noqa: F811
    socket = await connect(user)
    await socket.send(type="channel:join", channel=str(channel.pk))
    assert (await socket.recv())["type"] == "presence:sync"
    return socket


@pytest.fixture
def room(transactional_db):
    return {
        "channel": Channel.objects.create(name="general"),
        "forum": Channel.objects.create(name="help", type="forum"),
        "author": UserFactory(username="author"),
        "other": UserFactory(username="other"),
        "staff": StaffFactory(username="mod"),
    }


@pytest.mark.django_db(transaction=True)
async def test_hiding_and_approving_a_message_reach_others_sockets(connect, room):  # noqa: F811
    message = await sync_to_async(services.message_post)(actor=room["author"], channel=room["channel"], content="hi")
    sockets = {name: await joined(connect, room[name], room["channel"]) for name in ("author", "other", "staff")}
    for socket in sockets.values():
        await socket.expect_nothing(0.2)  # presence frames of the later joins
    set_state = sync_to_async(services.content_moderation_state_set)
    await set_state(actor=None, obj=message, state=ModerationState.HIDDEN)
    gone = await sockets["other"].recv()
    assert gone["type"] == "message:deleted" and gone["id"] == str(message.pk)
    await sockets["author"].expect_nothing()
    await sockets["staff"].expect_nothing()
    await set_state(actor=room["staff"], obj=message, state=ModerationState.VISIBLE)
    back = await sockets["other"].recv()
    assert back["type"] == "message:new" and back["message"]["id"] == str(message.pk)
    assert back["message"]["content"] == "hi"
    await sockets["author"].expect_nothing()
    await sockets["staff"].expect_nothing()


@pytest.mark.django_db(transaction=True)
async def test_hiding_and_approving_a_forum_reply_reach_the_topics_other_watchers(connect, room):  # noqa: F811
    post = await sync_to_async(services.forum_post_create)(actor=room["other"], channel=room["forum"], title="Q", content="?")
    reply = await sync_to_async(services.forum_reply_create)(actor=room["author"], post=post, content="an answer")
    sockets = {}
    for name in ("author", "other", "staff"):
        sockets[name] = await connect(room[name])
        await sockets[name].send(type="forum:watch", post=str(post.pk))
        assert (await sockets[name].recv())["type"] == "forum:watching"
    set_state = sync_to_async(services.content_moderation_state_set)
    await set_state(actor=None, obj=reply, state=ModerationState.HIDDEN)
    gone = await sockets["other"].recv()
    assert gone["type"] == "forum:reply_updated" and gone["reply"]["deleted"] is True
    assert gone["reply"]["content"] == "" and gone["reply"]["content_html"] == ""
    await sockets["author"].expect_nothing()
    await sockets["staff"].expect_nothing()
    await set_state(actor=room["staff"], obj=reply, state=ModerationState.VISIBLE)
    back = await sockets["other"].recv()
    assert back["type"] == "forum:reply" and back["reply"]["content"] == "an answer"
    await sockets["author"].expect_nothing()
    assert (await sync_to_async(ForumPost.objects.get)(pk=post.pk)).reply_count == 1
