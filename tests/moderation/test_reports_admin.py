"""The report queue in the admin: grouped by item, pending first, content in context (escaped), and the
actions approve, remove, remove-and-sanction, notes and purge, each recorded as a decision."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.utils import timezone

from accounts.models import Notification
from community.models import Message, ModerationState
from moderation import reports
from moderation.models import DecisionKind, ItemStatus, ModerationDecision, ModerationItem, Sanction
from tests.factories import StaffFactory, UserFactory
from tests.moderation import reports_support
from tests.moderation.reports_support import message_by, topic_by

place, crowd = reports_support.place, reports_support.crowd  # fixtures

pytestmark = pytest.mark.django_db
QUEUE = "/admin/moderation/moderationitem/"


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(StaffFactory(username="root", is_superuser=True))
    return client


def report(user, obj, content_type="message", reason="spam"):
    return reports.report_create(actor=user, content_type=content_type, content_id=obj.pk, reason=reason)[0]


def act(client, action, items, **data):
    """Runs an admin action with its confirmation form."""
    return client.post(QUEUE, {"action": action, ACTION_CHECKBOX_NAME: [str(i.pk) for i in items], "confirm": "1", **data})


def test_the_queue_groups_reports_by_item_pending_first_with_every_reason(admin_client, crowd, place):
    settled = message_by(crowd["author"], place["chat"], "old news")
    old = report(crowd["alice"], settled, reason="was bad")
    reports.item_resolve(actor=crowd["staff"], content_type="message", content_id=settled.pk, outcome="approve")
    message = message_by(crowd["author"], place["chat"], "<script>alert(1)</script> buy now")
    report(crowd["alice"], message, reason="spam <b>bold</b>")
    report(crowd["bob"], message, reason="scam")
    page = admin_client.get(QUEUE)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('name="_selected_action"') == 2  # two items, not three reports
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "spam &lt;b&gt;bold&lt;/b&gt;" in html and "scam" in html
    assert html.index("buy now") < html.index("old news")  # pending first
    detail = admin_client.get(f"{QUEUE}{old.pk}/change/")
    assert detail.status_code == 200 and "was bad" in detail.content.decode()


def test_the_queue_costs_the_same_queries_for_more_items(admin_client, crowd, place, django_assert_max_num_queries, settings):
    settings.COMMUNITY_POST_RATE = {"messages": 100, "seconds": 10}
    for i in range(3):
        report(crowd["alice"], message_by(crowd["author"], place["chat"], f"m{i}"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(QUEUE).status_code == 200
    for i in range(10):
        msg = message_by(crowd["author"], place["chat"], f"n{i}")
        report(crowd["alice"], msg)
        report(crowd["bob"], msg)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_client.get(QUEUE).status_code == 200


def test_the_content_is_shown_in_context(admin_client, crowd, place):
    post = topic_by(crowd["author"], place["forum"], title="Topic <i>title</i>", content="body text")
    item = report(crowd["alice"], post, content_type="forum_post")
    html = admin_client.get(f"{QUEUE}{item.pk}/change/").content.decode()
    assert "@author" in html and post.get_absolute_url() in html and "Topic &lt;i&gt;title&lt;/i&gt;" in html


def test_approve_dismisses_every_report_and_shows_hidden_content_again(admin_client, crowd, place, settings):
    settings.MODERATION_AUTO_HIDE_REPORTS = 2
    message = message_by(crowd["author"], place["chat"])
    first = report(crowd["alice"], message)
    report(crowd["bob"], message)
    message.refresh_from_db()
    assert message.moderation_state == ModerationState.HIDDEN
    form = admin_client.post(QUEUE, {"action": "approve", ACTION_CHECKBOX_NAME: [str(first.pk)]})
    assert form.status_code == 200 and b"reason" in form.content  # the confirmation form
    response = act(admin_client, "approve", [first], reason="Not spam", notes="checked the link")
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.moderation_state == ModerationState.VISIBLE and message.deleted_at is None
    items = ModerationItem.objects.filter(content_id=str(message.pk))
    assert {i.status for i in items} == {ItemStatus.APPROVED}
    assert all(i.resolved_at and i.moderator.username == "root" and "checked the link" in i.moderation_notes for i in items)
    decision = ModerationDecision.objects.get(kind=DecisionKind.APPROVE)
    assert decision.report_count == 2 and decision.first_reported_at == first.created_at and decision.reason == "Not spam"


def test_remove_soft_deletes_and_notifies_the_author(admin_client, crowd, place):
    message = message_by(crowd["author"], place["chat"])
    item = report(crowd["alice"], message)
    act(admin_client, "remove", [item], reason="Spam links", notes="")
    assert Message.objects.get(pk=message.pk).deleted_at is not None
    assert ModerationItem.objects.get(pk=item.pk).status == ItemStatus.REMOVED
    notice = Notification.objects.get(user=crowd["author"], kind="moderation")
    assert "removed" in notice.title and "Spam links" in notice.body
    assert ModerationDecision.objects.get(kind=DecisionKind.REMOVE).target_user == crowd["author"]


def test_remove_and_sanction_in_bulk(admin_client, crowd, place):
    items = [report(crowd["alice"], message_by(crowd["author"], place["chat"], f"m{i}")) for i in range(2)]
    items.append(report(crowd["alice"], topic_by(crowd["bob"], place["forum"]), content_type="forum_post"))
    response = act(admin_client, "remove_and_sanction", items, reason="spam", notes="", kind="silence",
                   sanction_reason="Spam wave", duration_hours="24")
    assert response.status_code == 302
    assert ModerationDecision.objects.filter(kind=DecisionKind.REMOVE).count() == 3
    silenced = Sanction.objects.filter(kind="silence")
    assert {s.user.username for s in silenced} == {"author", "bob"}
    assert all(timedelta(hours=23) < s.expires_at - timezone.now() <= timedelta(hours=24) for s in silenced)


def test_a_sanction_form_with_errors_is_shown_again(admin_client, crowd, place):
    item = report(crowd["alice"], message_by(crowd["author"], place["chat"]))
    response = act(admin_client, "remove_and_sanction", [item], kind="post_limit", sanction_reason="x")
    assert response.status_code == 200 and b"posts per hour" in response.content
    assert ModerationItem.objects.get(pk=item.pk).status == ItemStatus.PENDING


def test_removing_a_profile_clears_its_text(admin_client, crowd):
    profile = crowd["author"].profile
    profile.full_name, profile.bio = "Buy Pills", "cheap pills here"
    profile.save()
    item = report(crowd["alice"], crowd["author"], content_type="profile")
    act(admin_client, "remove", [item], reason="spam profile")
    profile.refresh_from_db()
    assert profile.full_name == "" and profile.bio == ""


def test_notes_are_added_to_pending_reports(admin_client, crowd, place):
    item = report(crowd["alice"], message_by(crowd["author"], place["chat"]))
    act(admin_client, "add_note", [item], notes="asked the author")
    item.refresh_from_db()
    assert "asked the author" in item.moderation_notes and item.status == ItemStatus.PENDING


def test_purge_the_authors_recent_content_from_the_queue(admin_client, crowd, place):
    message = message_by(crowd["author"], place["chat"])
    other = message_by(crowd["author"], place["chat"], "another")
    item = report(crowd["alice"], message)
    act(admin_client, "purge_authors", [item], days="3", reason="spammer")
    assert Message.objects.get(pk=other.pk).deleted_at is not None
    assert ModerationDecision.objects.get(kind=DecisionKind.PURGE).metadata["messages"] == 2


def test_members_and_plain_staff_cannot_use_the_queue(crowd, place):
    item = report(crowd["alice"], message_by(crowd["author"], place["chat"]))
    member = Client()
    member.force_login(UserFactory())
    assert member.get(QUEUE).status_code == 302  # to the admin sign-in
    staff = Client()
    staff.force_login(StaffFactory())  # staff without the model permissions
    assert staff.get(QUEUE).status_code == 403
    assert act(staff, "remove", [item], reason="x").status_code == 403
    assert ModerationItem.objects.get(pk=item.pk).status == ItemStatus.PENDING


def test_sanctions_are_added_through_the_service_and_lifted_by_the_action(admin_client, crowd):
    response = admin_client.post("/admin/moderation/sanction/add/", {
        "user": str(crowd["author"].pk), "kind": "suspend", "reason": "Fraud", "duration_hours": "48", "posts_per_hour": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    sanction = Sanction.objects.get()
    assert sanction.created_by.username == "root" and sanction.expires_at is not None
    assert ModerationDecision.objects.filter(kind=DecisionKind.SANCTION).count() == 1
    admin_client.post("/admin/moderation/sanction/", {"action": "lift", ACTION_CHECKBOX_NAME: [str(sanction.pk)]})
    sanction.refresh_from_db()
    assert sanction.lifted_at is not None
    assert admin_client.get(f"/admin/moderation/sanction/{sanction.pk}/change/").status_code == 200


def test_a_moderators_direct_removal_is_a_decision_and_resolves_the_reports(crowd, place):
    from community import services

    message = message_by(crowd["author"], place["chat"])
    item = report(crowd["alice"], message)
    services.message_delete(actor=crowd["staff"], message=message)
    decision = ModerationDecision.objects.get(kind=DecisionKind.REMOVE)
    assert decision.moderator == crowd["staff"] and decision.report_count == 1 and decision.metadata["direct"] is True
    assert ModerationItem.objects.get(pk=item.pk).status == ItemStatus.REMOVED
    post = topic_by(crowd["author"], place["forum"])
    services.forum_post_delete(actor=crowd["staff"], post=post)
    own = message_by(crowd["author"], place["chat"], "mine")
    services.message_delete(actor=crowd["author"], message=own)  # an author's own removal is no decision
    assert ModerationDecision.objects.filter(kind=DecisionKind.REMOVE).count() == 2


def test_a_queue_removal_is_recorded_once(admin_client, crowd, place):
    message = message_by(crowd["author"], place["chat"])
    act(admin_client, "remove", [report(crowd["alice"], message)], reason="spam")
    assert ModerationDecision.objects.filter(kind=DecisionKind.REMOVE).count() == 1
