"""The email provider's webhooks, signed as the provider signs them: bounces and complaints mark the
delivery and the subscriber (never mailed again); a bad signature changes nothing."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from content.models import Delivery, DeliveryStatus, SubscriberStatus
from content.newsletter import sending, tokens
from tests.factories import CampaignFactory, SubscriberFactory
from tests.mailbackends import ScriptedBackend

pytestmark = pytest.mark.django_db

MAILGUN_KEY = "mailgun-test-signing-key"
BASIC_AUTH = "anymail:webhook-test-secret"


@pytest.fixture(autouse=True)
def webhook_secrets(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY, "WEBHOOK_SECRET": BASIC_AUTH}
    settings.EMAIL_BACKEND = "tests.mailbackends.ScriptedBackend"
    ScriptedBackend.reset()


@pytest.fixture
def delivered(staff_user):
    """A sent campaign: two subscribers, one delivery each."""
    readers = [SubscriberFactory(email="alice@example.com"), SubscriberFactory(email="bob@example.com")]
    campaign = CampaignFactory()
    sending.campaign_start(campaign_id=campaign.pk, actor=staff_user, fan_out=False)
    sending.campaign_batch_send(campaign_id=campaign.pk)
    return campaign, readers


def _basic(secret: str = BASIC_AUTH) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def _mailgun(event: dict, key: str = MAILGUN_KEY) -> str:
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event})


def _mailgun_bounce(delivery: Delivery) -> dict:
    return {
        "event": "failed",
        "severity": "permanent",
        "recipient": delivery.email,
        "timestamp": time.time(),
        "message": {"headers": {"message-id": "20261201.abc@mg.example"}},
        "user-variables": {"delivery_id": str(delivery.pk), "campaign_id": str(delivery.campaign_id)},
        "delivery-status": {"code": 550, "message": "5.1.1 No such user"},
    }


def test_a_signed_mailgun_bounce_marks_the_delivery_and_the_subscriber(client, delivered):
    campaign, (alice, bob) = delivered
    delivery = Delivery.objects.get(subscriber=alice)
    response = client.post(
        "/anymail/mailgun/tracking/", _mailgun(_mailgun_bounce(delivery)), content_type="application/json", **_basic()
    )
    assert response.status_code == 200
    delivery.refresh_from_db()
    alice.refresh_from_db()
    assert delivery.status == DeliveryStatus.BOUNCED and delivery.bounced_at is not None
    assert alice.status == SubscriberStatus.BOUNCED
    bob.refresh_from_db()
    assert bob.status == SubscriberStatus.ACTIVE
    # Never mailed again: the next campaign goes to Bob only.
    ScriptedBackend.reset()
    following = CampaignFactory()
    sending.campaign_start(campaign_id=following.pk, fan_out=False)
    sending.campaign_batch_send(campaign_id=following.pk)
    assert [m.to[0] for m in ScriptedBackend.sent] == ["bob@example.com"]


def test_a_bad_signature_is_refused_and_changes_nothing(client, delivered):
    campaign, (alice, _) = delivered
    delivery = Delivery.objects.get(subscriber=alice)
    forged = _mailgun(_mailgun_bounce(delivery), key="not-the-key")
    response = client.post("/anymail/mailgun/tracking/", forged, content_type="application/json", **_basic())
    assert response.status_code == 400
    unsigned = json.dumps({"event-data": _mailgun_bounce(delivery)})
    assert client.post("/anymail/mailgun/tracking/", unsigned, content_type="application/json", **_basic()).status_code == 400
    alice.refresh_from_db()
    delivery.refresh_from_db()
    assert alice.status == SubscriberStatus.ACTIVE and delivery.status == DeliveryStatus.SENT


def test_mailgun_signature_alone_is_enough_without_a_basic_auth_secret(client, settings, delivered):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    campaign, (alice, _) = delivered
    delivery = Delivery.objects.get(subscriber=alice)
    forged = _mailgun(_mailgun_bounce(delivery), key="guessed")
    assert client.post("/anymail/mailgun/tracking/", forged, content_type="application/json").status_code == 400
    signed = _mailgun(_mailgun_bounce(delivery))
    assert client.post("/anymail/mailgun/tracking/", signed, content_type="application/json").status_code == 200
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.BOUNCED


def test_a_mailgun_complaint_marks_the_subscriber_complained(client, delivered):
    campaign, (alice, _) = delivered
    delivery = Delivery.objects.get(subscriber=alice)
    event = {**_mailgun_bounce(delivery), "event": "complained"}
    event.pop("severity")
    assert client.post("/anymail/mailgun/tracking/", _mailgun(event), content_type="application/json", **_basic()).status_code == 200
    alice.refresh_from_db()
    delivery.refresh_from_db()
    assert alice.status == SubscriberStatus.COMPLAINED and delivery.complained_at is not None


def test_postmark_bounce_and_complaint_with_basic_auth(client, delivered):
    campaign, (alice, bob) = delivered
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "Email": "alice@example.com",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"delivery_id": str(Delivery.objects.get(subscriber=alice).pk)},
        "BouncedAt": "2026-12-01T10:00:00Z",
    }
    complaint = {
        "RecordType": "SpamComplaint",
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Email": "bob@example.com",
        "MessageID": "9a1b2c3d-0000-4000-8000-000000000000",
        "BouncedAt": "2026-12-01T10:00:00Z",
    }
    wrong = client.post("/anymail/postmark/tracking/", json.dumps(bounce), content_type="application/json", **_basic("anymail:wrong"))
    assert wrong.status_code == 400
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.ACTIVE
    for payload in (bounce, complaint):
        response = client.post("/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json", **_basic())
        assert response.status_code == 200
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert alice.status == SubscriberStatus.BOUNCED and bob.status == SubscriberStatus.COMPLAINED


def test_an_esp_without_a_secret_answers_404(client, settings, delivered):
    settings.ANYMAIL = {}
    campaign, (alice, _) = delivered
    body = json.dumps({"RecordType": "Bounce", "Type": "HardBounce", "Email": "alice@example.com"})
    assert client.post("/anymail/postmark/tracking/", body, content_type="application/json").status_code == 404
    assert client.post("/anymail/mailgun/tracking/", body, content_type="application/json").status_code == 404
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.ACTIVE


def test_the_list_unsubscribe_mailto_works_through_inbound_mail(client, delivered):
    campaign, (alice, _) = delivered
    token = tokens.manage_token(subscriber_id=alice.pk, campaign_id=campaign.pk)
    inbound = {
        "From": "alice@example.com",
        "FromFull": {"Email": "alice@example.com", "Name": ""},
        "To": "unsubscribe@agentwise.localhost",
        "ToFull": [{"Email": "unsubscribe@agentwise.localhost", "Name": ""}],
        "Subject": f"unsubscribe {token}",
        "TextBody": "",
        "Headers": [],
        "MessageID": "inbound-1",
    }
    response = client.post("/anymail/postmark/inbound/", json.dumps(inbound), content_type="application/json", **_basic())
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.status == SubscriberStatus.UNSUBSCRIBED
    assert Delivery.objects.get(subscriber=alice).unsubscribed_at is not None
