"""Sending campaigns: one message per active subscriber however often it is started or retried; the
message's headers and parts; cancel, auto-pause and resume, resend to failed, throttling and retries,
scheduling. Tasks run eagerly here; test_newsletter_worker.py kills a real worker."""

import smtplib
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from billing.plans import SubscriptionTier
from content.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, SubscriberStatus
from content.newsletter import sending, services
from content.tasks import newsletter_batch_task, newsletter_tick_task
from tests.factories import CampaignFactory, SubscriberFactory, UserFactory
from tests.mailbackends import ScriptedBackend

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def scripted(settings):
    settings.EMAIL_BACKEND = "tests.mailbackends.ScriptedBackend"
    settings.NEWSLETTER_BATCH_SIZE = 10
    settings.NEWSLETTER_CLAIM_CHUNK = 4
    settings.NEWSLETTER_RETRY_SECONDS = 30
    settings.SITE_URL = "https://agentwise.example"
    ScriptedBackend.reset()
    yield ScriptedBackend
    ScriptedBackend.reset()


@pytest.fixture
def audience():
    """12 active subscribers, and some who must get nothing."""
    active = [SubscriberFactory() for _ in range(12)]
    SubscriberFactory(status=SubscriberStatus.PENDING)
    SubscriberFactory(status=SubscriberStatus.UNSUBSCRIBED)
    SubscriberFactory(status=SubscriberStatus.BOUNCED)
    SubscriberFactory(status=SubscriberStatus.COMPLAINED)
    return active


def _recipients() -> Counter:
    return Counter(message.to[0] for message in ScriptedBackend.sent)


def _start(campaign, staff, capture):
    with capture(execute=True):
        return sending.campaign_start(campaign_id=campaign.pk, actor=staff)


def test_each_active_subscriber_gets_exactly_one_message(audience, staff_user, django_capture_on_commit_callbacks):
    campaign = CampaignFactory()
    started = _start(campaign, staff_user, django_capture_on_commit_callbacks)
    assert started.total_count == 12
    assert _recipients() == Counter({s.email: 1 for s in audience})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert (campaign.sent_count, campaign.failed_count, campaign.total_count) == (12, 0, 12)
    assert campaign.finished_at is not None
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}

    # A second press, the command, and a retried task all send nothing more.
    _start(campaign, staff_user, django_capture_on_commit_callbacks)
    newsletter_batch_task.delay(campaign.pk)
    out = StringIO()
    call_command("send_newsletter", str(campaign.pk), stdout=out, stderr=StringIO())
    assert "already sent" in out.getvalue()
    assert len(ScriptedBackend.sent) == 12


def test_every_message_has_its_parts_headers_and_a_personal_greeting(staff_user, django_capture_on_commit_callbacks):
    user = UserFactory(email="ada@example.com")
    user.profile.full_name = "Ada Lovelace"
    user.profile.save()
    reader = SubscriberFactory(email="ada@example.com", user=user)
    _start(CampaignFactory(subject="March"), staff_user, django_capture_on_commit_callbacks)
    [message] = ScriptedBackend.sent
    assert message.subject == "March"
    assert "Hi Ada Lovelace," in message.body
    html = message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html" and "Hi Ada Lovelace," in html
    assert "<strong>42%</strong>" in html and "**42%**" in message.body
    assert 'href="https://agentwise.example/blog/"' in html  # relative links made absolute
    headers = message.extra_headers
    https_url, mailto = [part.strip(" <>") for part in headers["List-Unsubscribe"].split(",")]
    assert https_url.startswith("https://agentwise.example/newsletter/unsubscribe/")
    assert mailto.startswith("mailto:unsubscribe@") and "subject=unsubscribe%20" in mailto
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    campaign_id = Campaign.objects.get().pk
    assert headers["Message-ID"] == f"<newsletter.{campaign_id}.{reader.pk}@agentwise.localhost>"
    # The unsubscribe link in the body is the one in the header, and it works without a sign-in.
    assert https_url in message.body and https_url in html
    from django.test import Client

    path = https_url.removeprefix("https://agentwise.example")
    assert Client(enforce_csrf_checks=True).post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded").status_code == 200
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED


def test_a_blog_post_can_be_the_campaign(staff_user, django_capture_on_commit_callbacks):
    from content import services as content_services

    post = content_services.blog_post_create(
        actor=staff_user,
        fields={"title": "Shipping search", "content": [{"type": "paragraph", "text": "Search is live."}]},
        status="published",
    )
    SubscriberFactory()
    campaign = CampaignFactory(content=[], blog_post=post)
    _start(campaign, staff_user, django_capture_on_commit_callbacks)
    [message] = ScriptedBackend.sent
    assert "Shipping search" in message.body and "Search is live." in message.body
    assert f"https://agentwise.example/blog/{post.slug}/" in message.body


def test_an_empty_or_unpublished_body_cannot_be_sent(staff_user):
    SubscriberFactory()
    empty = services.campaign_create(actor=staff_user, fields={"subject": "Only a subject"})
    with pytest.raises(ValidationError) as error:
        sending.campaign_start(campaign_id=empty.pk, actor=staff_user)
    assert "content" in error.value.message_dict
    assert Campaign.objects.get(pk=empty.pk).status == CampaignStatus.DRAFT


def test_only_staff_manage_campaigns(user, staff_user):
    from agentwise.errors import Forbidden

    with pytest.raises(Forbidden):
        services.campaign_create(actor=user, fields={"subject": "x"})
    campaign = CampaignFactory()
    with pytest.raises(Forbidden):
        sending.campaign_start(campaign_id=campaign.pk, actor=user)
    with pytest.raises(Forbidden):
        services.campaign_cancel(actor=user, campaign=campaign)


def test_a_plan_segment_goes_only_to_that_plan(staff_user, django_capture_on_commit_callbacks):
    pro_user = UserFactory()
    pro_user.profile.subscription_tier = SubscriptionTier.PRO
    pro_user.profile.save()
    pro = SubscriberFactory(email=pro_user.email, user=pro_user)
    SubscriberFactory(user=UserFactory())  # free plan
    SubscriberFactory()  # no account
    campaign = CampaignFactory(audience="tier", audience_tier="pro")
    _start(campaign, staff_user, django_capture_on_commit_callbacks)
    assert _recipients() == Counter({pro.email: 1})


def test_cancel_stops_within_one_claim(audience, staff_user, django_capture_on_commit_callbacks, settings):
    campaign = CampaignFactory()

    def cancel_after_five(message):
        if len(ScriptedBackend.sent) == 5:
            services.campaign_cancel(actor=staff_user, campaign=Campaign.objects.get(pk=campaign.pk))

    ScriptedBackend.script = cancel_after_five
    _start(campaign, staff_user, django_capture_on_commit_callbacks)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    # The chunk in hand (4 rows) is finished; nothing after it.
    assert len(ScriptedBackend.sent) <= 5 + settings.NEWSLETTER_CLAIM_CHUNK
    assert len(ScriptedBackend.sent) < 12
    newsletter_batch_task.delay(campaign.pk)  # a late task of the cancelled campaign sends nothing
    assert len(ScriptedBackend.sent) < 12


def _refuse(addresses, code=550):
    def script(message):
        if message.to[0] in addresses:
            raise smtplib.SMTPRecipientsRefused({message.to[0]: (code, b"5.1.1 No such user")})

    return script


def test_a_campaign_pauses_itself_when_too_many_fail_and_resumes_where_it_stopped(
    audience, staff_user, django_capture_on_commit_callbacks, settings
):
    settings.NEWSLETTER_PAUSE_MIN_SAMPLE = 4
    settings.NEWSLETTER_PAUSE_ERROR_RATE = 0.5
    bad = {s.email for s in audience[:4]}
    ScriptedBackend.script = _refuse(bad)
    campaign = CampaignFactory()
    _start(campaign, staff_user, django_capture_on_commit_callbacks)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "failed" in campaign.pause_reason
    sent_before = len(ScriptedBackend.sent)
    assert sent_before < 8
    # Nothing goes out while paused, whoever asks.
    newsletter_batch_task.delay(campaign.pk)
    assert len(ScriptedBackend.sent) == sent_before

    ScriptedBackend.script = None
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_resume(actor=staff_user, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert _recipients() == Counter({s.email: 1 for s in audience if s.email not in bad})
    assert (campaign.sent_count, campaign.failed_count) == (8, 4)

    # Resend to the failed only: the four bad addresses, once each, nobody else again.
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.campaign_resend_failed(actor=staff_user, campaign=campaign) == 4
    assert _recipients() == Counter({s.email: 1 for s in audience})
    campaign.refresh_from_db()
    assert (campaign.status, campaign.sent_count, campaign.failed_count) == (CampaignStatus.SENT, 12, 0)


def test_a_throttling_reply_backs_off_without_spending_an_attempt(audience, staff_user, time_machine):
    time_machine.move_to("2026-06-30T23:59:00Z", tick=False)
    campaign = CampaignFactory()
    sending.campaign_start(campaign_id=campaign.pk, actor=staff_user, fan_out=False)
    throttled = []

    def throttle_third(message):
        if len(ScriptedBackend.sent) == 2 and not throttled:
            throttled.append(message.to[0])
            raise smtplib.SMTPResponseException(454, b"Throttling failure: Maximum sending rate exceeded.")

    ScriptedBackend.script = throttle_third
    report = sending.campaign_batch_send(campaign_id=campaign.pk)
    assert report.stopped == sending.Failure.THROTTLED and report.sent == 2 and report.failed == 0
    row = Delivery.objects.get(email=throttled[0])
    assert row.status == DeliveryStatus.QUEUED and row.attempts == 0  # not counted as a failure
    assert row.next_attempt_at > timezone.now()
    # Before the back-off is over nothing is due; after it, it all goes out, once each.
    assert sending.campaign_batch_send(campaign_id=campaign.pk).sent == 8  # the rest not held back
    time_machine.move_to(timezone.now() + timedelta(minutes=5), tick=False)
    while not sending.campaign_batch_send(campaign_id=campaign.pk).finished:
        pass
    assert _recipients() == Counter({s.email: 1 for s in audience})
    assert Campaign.objects.get(pk=campaign.pk).failed_count == 0


def test_provider_errors_are_retried_with_back_off_then_fail(staff_user, time_machine, settings):
    time_machine.move_to("2026-06-01T00:00:00Z", tick=False)
    settings.NEWSLETTER_MAX_ATTEMPTS = 3
    reader = SubscriberFactory()
    campaign = CampaignFactory()
    sending.campaign_start(campaign_id=campaign.pk, actor=staff_user, fan_out=False)

    def down(message):
        raise ConnectionRefusedError(111, "Connection refused")

    ScriptedBackend.script = down
    waits = []
    for _ in range(3):
        report = sending.campaign_batch_send(campaign_id=campaign.pk)
        row = Delivery.objects.get()
        if row.status == DeliveryStatus.QUEUED:
            waits.append((row.next_attempt_at - timezone.now()).total_seconds())
            time_machine.move_to(row.next_attempt_at, tick=False)
    assert waits == [30, 60]  # doubling back-off
    row = Delivery.objects.get()
    assert row.status == DeliveryStatus.FAILED and row.attempts == 3 and "Connection refused" in row.error
    assert report.finished
    campaign.refresh_from_db()
    assert (campaign.status, campaign.failed_count) == (CampaignStatus.SENT, 1)
    assert not ScriptedBackend.sent and reader


def test_a_dead_senders_claim_is_taken_over_after_its_lease(audience, staff_user, time_machine, settings):
    time_machine.move_to("2026-01-31T23:59:30Z", tick=False)
    campaign = CampaignFactory()
    sending.campaign_start(campaign_id=campaign.pk, actor=staff_user, fan_out=False)
    _, claimed = sending.deliveries_claim(campaign_id=campaign.pk, size=4)  # …and the sender dies here
    assert len(claimed) == 4
    while not sending.campaign_batch_send(campaign_id=campaign.pk).claimed == 0:
        pass
    assert len(ScriptedBackend.sent) == 8  # the dead sender's rows are still its own
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENDING
    time_machine.move_to(timezone.now() + timedelta(seconds=settings.NEWSLETTER_CLAIM_SECONDS + 1), tick=False)
    assert sending.campaign_batch_send(campaign_id=campaign.pk).finished
    assert _recipients() == Counter({s.email: 1 for s in audience})


def test_someone_who_unsubscribes_mid_campaign_is_skipped(audience, staff_user):
    campaign = CampaignFactory()
    sending.campaign_start(campaign_id=campaign.pk, actor=staff_user, fan_out=False)
    services.subscriber_unsubscribe(subscriber_id=audience[-1].pk)
    while not sending.campaign_batch_send(campaign_id=campaign.pk).finished:
        pass
    assert audience[-1].email not in _recipients()
    assert Delivery.objects.get(subscriber=audience[-1]).status == DeliveryStatus.SKIPPED


def test_scheduled_campaigns_start_on_time(audience, staff_user, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to("2026-12-31T23:00:00Z", tick=False)
    campaign = CampaignFactory()
    with pytest.raises(ValidationError):
        services.campaign_schedule(actor=staff_user, campaign=campaign, at=timezone.now() - timedelta(minutes=1))
    services.campaign_schedule(actor=staff_user, campaign=campaign, at=timezone.now() + timedelta(hours=1))
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SCHEDULED
    with django_capture_on_commit_callbacks(execute=True):
        newsletter_tick_task.delay()
    assert not ScriptedBackend.sent
    time_machine.move_to("2027-01-01T00:00:30Z", tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        newsletter_tick_task.delay()
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT
    assert _recipients() == Counter({s.email: 1 for s in audience})


def test_a_stalled_campaign_is_picked_up_by_the_beat_task(audience, staff_user, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to("2026-05-01T10:00:00Z", tick=False)
    campaign = CampaignFactory()
    sending.campaign_start(campaign_id=campaign.pk, actor=staff_user, fan_out=False)  # its tasks were lost
    with django_capture_on_commit_callbacks(execute=True):
        assert newsletter_tick_task.delay().get()["restarted"] == 0  # not quiet for long enough yet
    time_machine.move_to("2026-05-01T10:05:00Z", tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        newsletter_tick_task.delay()
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT
    assert _recipients() == Counter({s.email: 1 for s in audience})


def test_send_newsletter_command_shows_progress_and_sends_once(audience, staff_user):
    campaign = CampaignFactory()
    out, err = StringIO(), StringIO()
    call_command("send_newsletter", str(campaign.pk), stdout=out, stderr=err)
    assert "12 sent" in out.getvalue()
    assert "12/12" in err.getvalue()  # tqdm's bar
    call_command("send_newsletter", str(campaign.pk), stdout=out, stderr=err)
    assert len(ScriptedBackend.sent) == 12
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("send_newsletter", "999999")


def test_error_classification():
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    class Response:
        def __init__(self, status_code):
            self.status_code = status_code
            self.text = ""

    assert sending.classify(smtplib.SMTPResponseException(454, b"Throttling failure")) == sending.Failure.THROTTLED
    assert sending.classify(smtplib.SMTPResponseException(451, b"Try again later")) == sending.Failure.PROVIDER
    assert sending.classify(smtplib.SMTPResponseException(554, b"Rejected")) == sending.Failure.PERMANENT
    assert sending.classify(smtplib.SMTPRecipientsRefused({"a@b.c": (452, b"Mailbox full")})) == sending.Failure.RECIPIENT_TEMPORARY
    assert sending.classify(smtplib.SMTPServerDisconnected("gone")) == sending.Failure.PROVIDER
    assert sending.classify(AnymailAPIError("slow down", status_code=429)) == sending.Failure.THROTTLED
    assert sending.classify(AnymailAPIError("down", status_code=503)) == sending.Failure.PROVIDER
    assert sending.classify(AnymailAPIError("bad request", status_code=422)) == sending.Failure.PERMANENT
    assert sending.classify(AnymailRecipientsRefused("refused")) == sending.Failure.PERMANENT
    assert Response(200).status_code == 200


def test_a_sender_that_overran_its_lease_skips_rows_another_sender_took(staff_user, settings):
    import uuid

    settings.NEWSLETTER_CLAIM_SECONDS = 0  # renew (and check) before every message
    readers = [SubscriberFactory() for _ in range(3)]
    campaign = CampaignFactory()
    sending.campaign_start(campaign_id=campaign.pk, actor=staff_user, fan_out=False)

    def steal_the_second(message):
        if len(ScriptedBackend.sent) == 0:
            other_sender_lease = timezone.now() + timedelta(minutes=5)
            Delivery.objects.filter(subscriber=readers[1]).update(claim_token=uuid.uuid4(), claimed_until=other_sender_lease)

    ScriptedBackend.script = steal_the_second
    sending.campaign_batch_send(campaign_id=campaign.pk, follow_up=False)
    assert readers[1].email not in _recipients()
    assert _recipients() == Counter({readers[0].email: 1, readers[2].email: 1})
