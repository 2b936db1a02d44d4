"""Staff run the newsletter from the admin, through the services: editor, preview, a test to
themselves, send / schedule / cancel / resume / resend to failed, live progress and stats."""

import json
from collections import Counter

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from content.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, Subscriber, SubscriberStatus
from tests.factories import CampaignFactory, StaffFactory, SubscriberFactory, UserFactory
from tests.mailbackends import ScriptedBackend

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def scripted(settings):
    settings.EMAIL_BACKEND = "tests.mailbackends.ScriptedBackend"
    ScriptedBackend.reset()


def _action(client, campaign, verb, capture, **data):
    with capture(execute=True):
        return client.post(f"/admin/content/campaign/{campaign.pk}/do/{verb}/", data)


def test_a_campaign_is_written_in_the_admin_with_just_a_subject_then_a_body(admin_client):
    response = admin_client.post(
        "/admin/content/campaign/add/", {"subject": "December news", "preheader": "", "content": "[]", "audience": "all", "audience_tier": ""}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get()
    assert campaign.status == CampaignStatus.DRAFT and campaign.content == []
    body = [{"type": "paragraph", "text": "Hello **readers**"}]
    bad = admin_client.post(
        f"/admin/content/campaign/{campaign.pk}/change/",
        {"subject": "December news", "content": json.dumps([{"type": "video"}]), "audience": "all", "audience_tier": ""},
    )
    assert bad.status_code == 200 and b"errorlist" in bad.content  # the bad block is named, nothing saved
    admin_client.post(
        f"/admin/content/campaign/{campaign.pk}/change/",
        {"subject": "December news", "content": json.dumps(body), "audience": "tier", "audience_tier": "pro"},
    )
    campaign.refresh_from_db()
    assert campaign.content == body and campaign.audience_tier == "pro"


def test_preview_and_a_test_send_to_me(admin_client, staff_user, django_capture_on_commit_callbacks):
    campaign = CampaignFactory()
    preview = admin_client.get(f"/admin/content/campaign/{campaign.pk}/preview/")
    assert preview.status_code == 200 and b"<strong>42%</strong>" in preview.content
    assert "sandbox" in preview["Content-Security-Policy"]
    response = _action(admin_client, campaign, "test", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    [message] = ScriptedBackend.sent  # through the outbox, to the staff member only
    assert message.to == [staff_user.email] and message.subject.startswith("[Test] ")
    assert not Delivery.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_send_shows_progress_and_stats_and_a_second_press_sends_nothing(admin_client, django_capture_on_commit_callbacks):
    readers = [SubscriberFactory() for _ in range(5)]
    campaign = CampaignFactory()
    page = admin_client.get(f"/admin/content/campaign/{campaign.pk}/change/")
    assert b"Send now" in page.content and b"Send a test to me" in page.content
    _action(admin_client, campaign, "send", django_capture_on_commit_callbacks)
    _action(admin_client, campaign, "send", django_capture_on_commit_callbacks)
    assert Counter(m.to[0] for m in ScriptedBackend.sent) == Counter({r.email: 1 for r in readers})
    progress = admin_client.get(f"/admin/content/campaign/{campaign.pk}/progress/").json()
    assert progress["status"] == "sent" and (progress["sent"], progress["total"], progress["failed"]) == (5, 5, 0)
    stats = admin_client.get(f"/admin/content/campaign/{campaign.pk}/stats/")
    assert stats.status_code == 200 and b"Recipients" in stats.content
    listing = admin_client.get("/admin/content/campaign/")
    assert b"5 of 5 sent" in listing.content


def test_schedule_and_cancel_from_the_admin(admin_client, django_capture_on_commit_callbacks, time_machine):
    time_machine.move_to("2026-12-01T09:00:00Z", tick=False)
    SubscriberFactory()
    campaign = CampaignFactory()
    past = _action(admin_client, campaign, "schedule", django_capture_on_commit_callbacks, scheduled_at="2026-11-30T09:00")
    assert past.status_code == 302 and Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT
    _action(admin_client, campaign, "schedule", django_capture_on_commit_callbacks, scheduled_at="2026-12-01T10:30")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and campaign.scheduled_at.isoformat() == "2026-12-01T10:30:00+00:00"
    _action(admin_client, campaign, "cancel", django_capture_on_commit_callbacks)
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.CANCELLED
    assert not ScriptedBackend.sent


def test_resume_and_resend_to_failed_buttons(admin_client, settings, django_capture_on_commit_callbacks):
    import smtplib

    settings.NEWSLETTER_PAUSE_MIN_SAMPLE = 2
    settings.NEWSLETTER_PAUSE_ERROR_RATE = 0.5
    settings.NEWSLETTER_CLAIM_CHUNK = 2
    readers = [SubscriberFactory() for _ in range(6)]
    bad = {readers[0].email, readers[1].email}

    def refuse(message):
        if message.to[0] in bad:
            raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"No such user")})

    ScriptedBackend.script = refuse
    campaign = CampaignFactory()
    _action(admin_client, campaign, "send", django_capture_on_commit_callbacks)
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.PAUSED
    page = admin_client.get(f"/admin/content/campaign/{campaign.pk}/change/")
    assert b"Resume" in page.content and b"Paused by itself" in page.content
    _action(admin_client, campaign, "resume", django_capture_on_commit_callbacks)
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT
    ScriptedBackend.script = None
    page = admin_client.get(f"/admin/content/campaign/{campaign.pk}/change/")
    assert b"Resend to 2 failed recipients only" in page.content
    _action(admin_client, campaign, "resend-failed", django_capture_on_commit_callbacks)
    assert Counter(m.to[0] for m in ScriptedBackend.sent) == Counter({r.email: 1 for r in readers})
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_actions_need_post_staff_and_the_change_permission(admin_client, user, django_capture_on_commit_callbacks):
    client = Client()
    SubscriberFactory()
    campaign = CampaignFactory()
    url = f"/admin/content/campaign/{campaign.pk}/do/send/"
    assert admin_client.get(url).status_code == 405
    assert client.post(url).status_code == 302  # anonymous: to the sign-in page
    client.force_login(user)
    assert client.post(url).status_code == 302  # not staff: the admin's sign-in page
    viewer = StaffFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(viewer)
    assert client.get(f"/admin/content/campaign/{campaign.pk}/progress/").status_code == 200
    assert client.post(url).status_code == 403  # may look, may not send
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(f"/admin/content/campaign/{campaign.pk}/do/nonsense/").status_code == 404
    assert not ScriptedBackend.sent and Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT
    assert client.get("/admin/content/campaign/999999/progress/").status_code == 404


def test_a_sent_campaign_cannot_be_edited_or_deleted(admin_client, django_capture_on_commit_callbacks):
    SubscriberFactory()
    campaign = CampaignFactory()
    _action(admin_client, campaign, "send", django_capture_on_commit_callbacks)
    admin_client.post(f"/admin/content/campaign/{campaign.pk}/change/", {"subject": "Rewritten", "content": "[]", "audience": "all", "audience_tier": ""})
    assert Campaign.objects.get(pk=campaign.pk).subject == campaign.subject
    assert admin_client.post(f"/admin/content/campaign/{campaign.pk}/delete/", {"post": "yes"}).status_code == 403


def test_subscribers_are_managed_through_the_services(admin_client):
    bounced = SubscriberFactory(status=SubscriberStatus.BOUNCED)
    active = SubscriberFactory()
    assert admin_client.get("/admin/content/subscriber/").status_code == 200
    assert admin_client.get("/admin/content/subscriber/add/").status_code == 403  # people opt in themselves
    admin_client.post(
        "/admin/content/subscriber/", {"action": "reactivate_selected", "_selected_action": [bounced.pk]}
    )
    admin_client.post(
        "/admin/content/subscriber/", {"action": "unsubscribe_selected", "_selected_action": [active.pk]}
    )
    bounced.refresh_from_db()
    active.refresh_from_db()
    assert bounced.status == SubscriberStatus.ACTIVE and active.status == SubscriberStatus.UNSUBSCRIBED
    admin_client.post(f"/admin/content/subscriber/{active.pk}/delete/", {"post": "yes"})
    assert not Subscriber.objects.filter(pk=active.pk).exists()
    assert UserFactory  # subscribers with accounts are listed with them (list_select_related)
