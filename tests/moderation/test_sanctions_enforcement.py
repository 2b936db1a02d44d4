"""Sanctions enforced on every door: REST, pages, websocket, sign-in and API keys; expiry by the clock alone."""

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError
from django.test import Client

from community.models import Message
from moderation import sanctions
from moderation.models import DecisionKind, ModerationDecision, Sanction
from tests.community.conftest import connect  # noqa: F401  (the websocket fixture)
from tests.factories import TEST_PASSWORD, UserFactory, make_api_key
from tests.moderation import reports_support
from tests.moderation.reports_support import client_for, message_by, reply_by, topic_by

place, crowd = reports_support.place, reports_support.crowd  # fixtures

pytestmark = pytest.mark.django_db


def sanction(crowd, kind, *, who="author", hours=None, **kwargs):
    return sanctions.sanction_create(
        actor=crowd["staff"], user=crowd[who], kind=kind, reason=kwargs.pop("reason", "Spamming links"),
        duration=timedelta(hours=hours) if hours else None, **kwargs,
    )


def post_message(user, channel, content="hello"):
    return client_for(user).post(f"/api/community/channels/{channel.pk}/messages/", {"content": content}, format="json")


# --- silence -------------------------------------------------------------------------------------------


def test_a_silenced_user_reads_but_cannot_post_anywhere_over_rest(crowd, place):
    post = topic_by(crowd["alice"], place["forum"])
    sanction(crowd, "silence", hours=24)
    client = client_for(crowd["author"])
    response = post_message(crowd["author"], place["chat"])
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "silenced" and error["reason"] == "Spamming links"
    assert error["expires_at"].endswith("Z") and "Spamming links" in error["message"]
    assert client.post("/api/forum/posts/", {"channel": str(place["forum"].pk), "title": "T", "content": "C"}, format="json").status_code == 403
    assert client.post(f"/api/forum/posts/{post.pk}/replies/", {"content": "C"}, format="json").status_code == 403
    assert client.get(f"/api/community/channels/{place['chat'].pk}/messages/").status_code == 200
    assert client.get(f"/api/forum/posts/{post.pk}/").status_code == 200
    assert not Message.objects.exists()


def test_a_silenced_user_is_told_why_on_the_page(crowd, place):
    post = topic_by(crowd["alice"], place["forum"])
    sanction(crowd, "silence", hours=2, reason="Harassing <b>people</b>")
    browser = Client()
    browser.force_login(crowd["author"])
    response = browser.post(f"/forum/t/{post.pk}/reply/", {"content": "hi"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Harassing &lt;b&gt;people&lt;/b&gt;" in html and "until" in html


def test_the_user_is_notified_with_the_reason(crowd):
    sanction(crowd, "silence", hours=2, reason="Be kind")
    from accounts.models import Notification

    notice = Notification.objects.get(user=crowd["author"], kind="moderation")
    assert "silenced" in notice.title and "Be kind" in notice.body


@pytest.mark.time_machine(lambda: datetime.now(UTC), tick=False)
def test_a_silence_ends_by_itself_at_its_expiry(crowd, place, time_machine):
    sanction(crowd, "silence", hours=1)
    assert post_message(crowd["author"], place["chat"]).status_code == 403
    time_machine.shift(timedelta(minutes=59))
    assert post_message(crowd["author"], place["chat"]).status_code == 403
    time_machine.shift(timedelta(minutes=2))
    assert post_message(crowd["author"], place["chat"]).status_code == 201


def test_lifting_a_sanction_applies_at_once_and_is_recorded(crowd, place):
    silence = sanction(crowd, "silence")  # until lifted
    assert post_message(crowd["author"], place["chat"]).status_code == 403
    sanctions.sanction_lift(actor=crowd["staff"], sanction=silence, reason="appeal accepted")
    assert post_message(crowd["author"], place["chat"]).status_code == 201
    assert set(ModerationDecision.objects.values_list("kind", flat=True)) == {DecisionKind.SANCTION, DecisionKind.LIFT}


def test_only_staff_sanction_and_not_themselves(crowd):
    from agentwise.errors import Forbidden

    with pytest.raises(Forbidden):
        sanctions.sanction_create(actor=crowd["alice"], user=crowd["bob"], kind="silence", reason="x")
    with pytest.raises(ValidationError, match="yourself"):
        sanctions.sanction_create(actor=crowd["staff"], user=crowd["staff"], kind="silence", reason="x")
    with pytest.raises(ValidationError, match="reason"):
        sanctions.sanction_create(actor=crowd["staff"], user=crowd["bob"], kind="silence", reason=" ")
    with pytest.raises(ValidationError, match="posts_per_hour"):
        sanctions.sanction_create(actor=crowd["staff"], user=crowd["bob"], kind="post_limit", reason="x")
    assert not Sanction.objects.exists()


def test_a_moderator_cannot_sanction_staff_or_a_superuser_but_a_superuser_can(client, crowd):
    """A moderator (staff in the Moderators group) locking out an admin would be a takeover."""
    from django.contrib.auth.models import Group

    from agentwise.errors import Forbidden
    from moderation.roles import MODERATORS
    from tests.factories import StaffFactory

    moderator = crowd["staff"]
    moderator.groups.add(Group.objects.get(name=MODERATORS))
    admin_user = StaffFactory(username="root", is_superuser=True)
    other_mod = StaffFactory(username="mod2")
    for target in (admin_user, other_mod):
        with pytest.raises(Forbidden, match="Only a superuser sanctions staff"):
            sanctions.sanction_create(actor=moderator, user=target, kind="suspend", reason="x")
    client.force_login(moderator)
    response = client.post(
        "/admin/moderation/sanction/add/", {"user": admin_user.pk, "kind": "suspend", "reason": "takeover"}
    )
    assert response.status_code in (200, 403)  # the form's error, or refused outright
    assert not Sanction.objects.exists()
    sanctions.sanction_create(actor=admin_user, user=other_mod, kind="silence", reason="x")
    assert Sanction.objects.filter(user=other_mod).exists()


def test_the_check_costs_no_query_once_cached(crowd, django_assert_num_queries):
    sanctions.posting_check(actor=crowd["alice"], text="hello")
    with django_assert_num_queries(0):
        for _ in range(5):
            sanctions.posting_check(actor=crowd["alice"], text="hello")


# --- posting limit --------------------------------------------------------------------------------------


@pytest.mark.time_machine(lambda: datetime.now(UTC), tick=False)
def test_a_posting_limit_refuses_past_n_posts_an_hour(crowd, place, time_machine):
    sanction(crowd, "post_limit", posts_per_hour=2, reason="Calm down")
    assert post_message(crowd["author"], place["chat"], "one").status_code == 201
    time_machine.shift(timedelta(minutes=10))
    topic_by(crowd["author"], place["forum"])  # topics count too
    refused = post_message(crowd["author"], place["chat"], "three")
    assert refused.status_code == 429
    assert refused.json()["error"]["retry_after"] == 50 * 60 and refused["Retry-After"] == "3000"
    assert "Calm down" in refused.json()["error"]["message"]
    time_machine.shift(timedelta(minutes=51))
    assert post_message(crowd["author"], place["chat"], "four").status_code == 201


# --- suspension -----------------------------------------------------------------------------------------


def test_a_suspended_user_cannot_use_an_api_key(crowd):
    key = make_api_key(crowd["author"])[1]
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/me/").status_code == 200
    sanction(crowd, "suspend", hours=48, reason="Fraud")
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert "suspended" in response.json()["error"]["message"] and "Fraud" in response.json()["error"]["message"]


def test_suspending_signs_the_user_out_at_once(crowd):
    browser = Client()
    browser.force_login(crowd["author"])
    assert browser.get("/api/me/").status_code == 200
    sanction(crowd, "suspend", hours=48, reason="Fraud")
    assert browser.get("/api/me/").status_code == 401  # the session was ended with the suspension
    assert browser.get("/account/").status_code == 302  # to the sign-in page


def test_a_session_the_suspension_did_not_end_ends_on_its_next_request(crowd):
    """A session allauth does not track (or a suspension written behind the services' back): the middleware
    signs it out on its next request and says why."""
    browser = Client()
    browser.force_login(crowd["author"])
    Sanction.objects.create(user=crowd["author"], kind="suspend", reason="Fraud", expires_at=datetime.now(UTC) + timedelta(days=1))
    sanctions.standing_forget(crowd["author"].pk)
    response = browser.get("/api/me/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "account_suspended"
    assert response.json()["error"]["reason"] == "Fraud"
    assert SESSION_KEY not in browser.session
    page = browser.get("/account/")
    assert page.status_code == 302


@pytest.mark.time_machine(lambda: datetime.now(UTC), tick=False)
def test_a_suspended_user_cannot_sign_in_until_it_expires(crowd, time_machine):
    sanction(crowd, "suspend", hours=24, reason="Fraud & abuse")
    browser = Client()
    response = browser.post("/account/login/", {"login": crowd["author"].email, "password": TEST_PASSWORD})
    assert response.status_code == 403
    assert "Fraud &amp; abuse" in response.content.decode()
    assert SESSION_KEY not in browser.session
    time_machine.shift(timedelta(hours=25))
    response = browser.post("/account/login/", {"login": crowd["author"].email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert browser.session[SESSION_KEY] == str(crowd["author"].pk)


def test_suspending_ends_the_users_tracked_sessions(crowd):
    from allauth.usersessions.models import UserSession

    browser = Client()
    browser.post("/account/login/", {"login": crowd["author"].email, "password": TEST_PASSWORD})
    browser.get("/")
    assert UserSession.objects.filter(user=crowd["author"]).exists()
    sanction(crowd, "suspend", reason="Fraud")
    assert not UserSession.objects.filter(user=crowd["author"]).exists()


# --- websocket ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_silenced_over_the_websocket_gets_an_error_frame(connect, reference_data):  # noqa: F811
    from community.models import Channel
    from tests.factories import StaffFactory

    channel = await sync_to_async(Channel.objects.create)(name="general")
    user, staff = await sync_to_async(UserFactory)(), await sync_to_async(StaffFactory)()
    socket = await connect(user)
    await socket.send(type="channel:join", channel=str(channel.pk))
    assert (await socket.recv())["type"] == "presence:sync"
    await sync_to_async(sanctions.sanction_create)(actor=staff, user=user, kind="silence", reason="Cool off", duration=timedelta(hours=1))
    await socket.send(type="message:send", channel=str(channel.pk), content="hi", client_id="c1")
    frame = await socket.recv(skip=("presence:diff", "notification"))  # the notice of the silence may come first
    assert frame["type"] == "error" and frame["code"] == "silenced" and frame["reason"] == "Cool off"
    assert await sync_to_async(Message.objects.count)() == 0


@pytest.mark.django_db(transaction=True)
async def test_suspending_closes_the_users_sockets_with_4401(connect, reference_data):  # noqa: F811
    from tests.factories import StaffFactory

    user, staff = await sync_to_async(UserFactory)(), await sync_to_async(StaffFactory)()
    socket = await connect(user)
    await socket.send(type="ping")
    assert (await socket.recv())["type"] == "pong"
    await sync_to_async(sanctions.sanction_create)(actor=staff, user=user, kind="suspend", reason="Fraud")
    assert await socket.closed_with() == 4401


@pytest.mark.django_db(transaction=True)
async def test_a_suspended_user_cannot_open_a_socket(connect, reference_data):  # noqa: F811
    from tests.factories import StaffFactory

    user, staff = await sync_to_async(UserFactory)(), await sync_to_async(StaffFactory)()
    await sync_to_async(sanctions.sanction_create)(actor=staff, user=user, kind="suspend", reason="Fraud")
    key = await sync_to_async(make_api_key)(user)  # minted by the console, refused at use
    from channels.testing import WebsocketCommunicator

    from agentwise.asgi import application
    from tests.community.conftest import HOST, ORIGIN

    communicator = WebsocketCommunicator(application, "/ws/", headers=[ORIGIN, HOST, (b"authorization", f"Bearer {key[1]}".encode())])
    connected, _ = await communicator.connect(timeout=10)
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close" and output["code"] == 4401
    await communicator.disconnect()


# --- purge ----------------------------------------------------------------------------------------------


@pytest.mark.time_machine(lambda: datetime.now(UTC), tick=False)
def test_purge_removes_the_users_recent_content_everywhere(crowd, place, time_machine):
    old = message_by(crowd["author"], place["chat"], "old message")
    old_topic = topic_by(crowd["author"], place["forum"], title="old topic")
    time_machine.shift(timedelta(days=5))
    recent = message_by(crowd["author"], place["chat"], "spam 1")
    recent_topic = topic_by(crowd["author"], place["forum"], title="spam topic")
    others_topic = topic_by(crowd["alice"], place["forum"], title="real question")
    spam_reply = reply_by(crowd["author"], others_topic, "spam reply")
    kept = message_by(crowd["alice"], place["chat"], "alice's")
    counts = sanctions.user_content_purge(actor=crowd["staff"], user=crowd["author"], days=2, reason="spam wave")
    assert counts == {"messages": 1, "forum_posts": 1, "forum_replies": 1}
    assert Message.objects.get(pk=recent.pk).deleted_at is not None
    assert Message.objects.get(pk=old.pk).deleted_at is None and Message.objects.get(pk=kept.pk).deleted_at is None
    from community.models import ForumPost, ForumReply

    assert not ForumPost.objects.filter(pk=recent_topic.pk).exists()
    assert ForumPost.objects.filter(pk=old_topic.pk).exists()
    assert ForumReply.objects.get(pk=spam_reply.pk).deleted_at is not None
    assert ForumPost.objects.get(pk=others_topic.pk).reply_count == 0
    decision = ModerationDecision.objects.get(kind=DecisionKind.PURGE)
    assert decision.target_user == crowd["author"] and decision.metadata["days"] == 2 and decision.reason == "spam wave"


def test_members_cannot_purge(crowd):
    from agentwise.errors import Forbidden

    with pytest.raises(Forbidden):
        sanctions.user_content_purge(actor=crowd["alice"], user=crowd["bob"], days=3)


