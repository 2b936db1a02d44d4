"""POST /api/reports/: who may report what, dedup per reporter, auto-hide, validation, rate limit."""

import threading

import pytest
from django.db import connection

from community.models import ForumPost, Message, ModerationState
from moderation.models import DecisionKind, ModerationDecision, ModerationItem
from tests.factories import UserFactory, make_api_key
from tests.moderation import reports_support
from tests.moderation.reports_support import client_for, message_by, reply_by, topic_by

place, crowd = reports_support.place, reports_support.crowd  # fixtures

pytestmark = pytest.mark.django_db


def report(user, content_type, content_id, reason="spam"):
    return client_for(user).post("/api/reports/", {"content_type": content_type, "content_id": str(content_id), "reason": reason}, format="json")


def test_anonymous_cannot_report(crowd, place):
    message = message_by(crowd["author"], place["chat"])
    response = client_for().post("/api/reports/", {"content_type": "message", "content_id": str(message.pk), "reason": "x"}, format="json")
    assert response.status_code == 401
    assert not ModerationItem.objects.exists()


def test_member_reports_a_message_and_a_repeat_returns_the_same_report(crowd, place):
    message = message_by(crowd["author"], place["chat"], "buy cheap pills")
    first = report(crowd["alice"], "message", message.pk, "spam")
    assert first.status_code == 201
    body = first.json()
    assert body["content_type"] == "message" and body["content_id"] == str(message.pk)
    assert body["reason"] == "spam" and body["status"] == "pending"
    again = report(crowd["alice"], "message", message.pk, "still spam")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    item = ModerationItem.objects.get()
    assert item.reported_by == crowd["alice"] and item.content_author == crowd["author"]
    assert item.content_excerpt == "buy cheap pills"


def test_reporting_with_an_api_key(crowd, place):
    message = message_by(crowd["author"], place["chat"])
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(crowd['alice'])[1]}")
    response = client.post("/api/reports/", {"content_type": "message", "content_id": str(message.pk), "reason": "rude"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("name, status", [("alice", 404), ("member", 201), ("staff", 201)])
def test_private_content_is_404_to_who_cannot_see_it(crowd, place, name, status):
    message = message_by(crowd["member"], place["private"], "secret words")
    post = topic_by(crowd["member"], place["private_forum"])
    answer = reply_by(crowd["member"], post)
    if name == "member":  # the author cannot report themself; another member can
        other = UserFactory()
        from community.models import ChannelMember

        ChannelMember.objects.create(channel=place["private"], user=other)
        ChannelMember.objects.create(channel=place["private_forum"], user=other)
        crowd = {**crowd, "member": other}
    for content_type, obj in (("message", message), ("forum_post", post), ("forum_reply", answer)):
        response = report(crowd[name], content_type, obj.pk)
        assert response.status_code == status, (content_type, response.json())
        if status == 404:
            assert "secret" not in response.content.decode()


def test_unknown_malformed_and_deleted_content_is_404(crowd, place):
    message = message_by(crowd["author"], place["chat"])
    from community import services

    services.message_delete(actor=crowd["author"], message=message)
    assert report(crowd["alice"], "message", message.pk).status_code == 404
    assert report(crowd["alice"], "message", "not-a-uuid").status_code == 404
    assert report(crowd["alice"], "forum_post", "00000000-0000-0000-0000-000000000000").status_code == 404
    assert report(crowd["alice"], "profile", "00000000-0000-0000-0000-000000000000").status_code == 404


def test_topics_replies_and_profiles_can_be_reported(crowd, place):
    post = topic_by(crowd["author"], place["forum"])
    answer = reply_by(crowd["author"], post)
    assert report(crowd["alice"], "forum_post", post.pk).status_code == 201
    assert report(crowd["alice"], "forum_reply", answer.pk).status_code == 201
    assert report(crowd["alice"], "profile", crowd["author"].pk).status_code == 201
    assert set(ModerationItem.objects.values_list("content_type", flat=True)) == {"forum_post", "forum_reply", "profile"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"content_type": "message", "content_id": "x"}, "reason"),
        ({"content_type": "message", "content_id": "x", "reason": "   "}, "reason"),
        ({"content_type": "message", "content_id": "x", "reason": "r" * 256}, "reason"),
        ({"content_type": "message", "content_id": "x", "reason": 42}, "reason"),
        ({"content_type": "channel", "content_id": "x", "reason": "r"}, "content_type"),
        ({"content_type": "message", "reason": "r"}, "content_id"),
    ],
)
def test_bad_input_is_400_with_field_errors(crowd, body, field):
    response = client_for(crowd["alice"]).post("/api/reports/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_you_cannot_report_yourself(crowd, place):
    message = message_by(crowd["author"], place["chat"])
    response = report(crowd["author"], "message", message.pk)
    assert response.status_code == 400 and "content_id" in response.json()["error"]["fields"]


def test_three_distinct_reporters_hide_the_content_once(crowd, place, settings):
    settings.MODERATION_AUTO_HIDE_REPORTS = 3
    message = message_by(crowd["author"], place["chat"])
    report(crowd["alice"], "message", message.pk)
    report(crowd["alice"], "message", message.pk)  # the same reporter again counts once
    report(crowd["bob"], "message", message.pk)
    message.refresh_from_db()
    assert message.moderation_state == ModerationState.VISIBLE
    report(crowd["carol"], "message", message.pk)
    message.refresh_from_db()
    assert message.moderation_state == ModerationState.HIDDEN
    decision = ModerationDecision.objects.get(kind=DecisionKind.HIDE)
    assert decision.report_count == 3 and decision.target_user == crowd["author"]
    assert decision.content_type == "message" and decision.content_id == str(message.pk)
    report(crowd["staff"], "message", message.pk)  # a fourth: no second hide decision
    assert ModerationDecision.objects.filter(kind=DecisionKind.HIDE).count() == 1


def test_a_topic_is_hidden_by_reports_too(crowd, place, settings):
    settings.MODERATION_AUTO_HIDE_REPORTS = 2
    post = topic_by(crowd["author"], place["forum"])
    report(crowd["alice"], "forum_post", post.pk)
    report(crowd["bob"], "forum_post", post.pk)
    assert ForumPost.objects.get(pk=post.pk).moderation_state == ModerationState.HIDDEN


def test_reporting_is_rate_limited(crowd, place, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "moderation.report": "2/hour"}
    messages = [message_by(crowd["author"], place["chat"], f"m{i}") for i in range(3)]
    assert report(crowd["alice"], "message", messages[0].pk).status_code == 201
    assert report(crowd["alice"], "message", messages[1].pk).status_code == 201
    assert report(crowd["alice"], "message", messages[0].pk).status_code == 200  # a repeat costs nothing
    limited = report(crowd["alice"], "message", messages[2].pk)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_make_one_report(reference_data):
    """Two requests from the same reporter at once: one row, both answered with it (PostgreSQL's partial unique index)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent transactions")
    from community.models import Channel

    channel = Channel.objects.create(name="race")
    author, reporter = UserFactory(), UserFactory()
    message = message_by(author, channel)
    results = []

    def go():
        try:
            results.append(report(reporter, "message", message.pk).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count(201) == 1 and all(r in (200, 201) for r in results)
    assert ModerationItem.objects.filter(content_id=str(message.pk)).count() == 1
    assert Message.objects.filter(pk=message.pk).exists()
