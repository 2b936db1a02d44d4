"""Subscribing: double opt-in through the API, the forms and the account settings; signed links to
confirm, unsubscribe (GET safe, POST and RFC 8058 one-click act) and manage preferences."""

import re

import pytest
from django.core import mail, signing
from django.urls import reverse

from content.models import Campaign, Delivery, Subscriber, SubscriberStatus
from content.newsletter import tokens
from tests.factories import CampaignFactory, SubscriberFactory, UserFactory, sign_in

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/api/newsletter/subscribe/"


def _link(message, kind: str) -> str:
    """The path of the first /newsletter/<kind>/<token>/ link in an email's text part."""
    match = re.search(rf"https?://[^/\s]+(/newsletter/{kind}/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Runs what a request queued after commit (the outbox's send) and returns the emails it sent."""

    class Sent:
        def __call__(self, action):
            mail.outbox.clear()
            with django_capture_on_commit_callbacks(execute=True):
                result = action()
            return result

    return Sent()


# --- Double opt-in -----------------------------------------------------------------------------


def test_subscribe_sends_a_confirmation_and_only_the_confirm_post_activates(api_client, client, sent):
    response = sent(lambda: api_client.post(SUBSCRIBE, {"email": "  Ada@Example.COM "}, format="json"))
    assert response.status_code == 202
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "ada@example.com"  # normalised
    assert subscriber.status == SubscriberStatus.PENDING and subscriber.source == "api"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    confirm_path = _link(mail.outbox[0], "confirm")

    page = client.get(confirm_path)  # a mail scanner following the link confirms nothing
    assert page.status_code == 200 and b"Yes, subscribe me" in page.content
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING

    done = client.post(confirm_path)
    assert done.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.ACTIVE and subscriber.confirmed_at is not None


def test_the_answer_is_the_same_whatever_the_address_is(api_client, sent):
    SubscriberFactory(email="known@example.com")
    SubscriberFactory(email="bounced@example.com", status=SubscriberStatus.BOUNCED)
    answers = [
        sent(lambda e=email: api_client.post(SUBSCRIBE, {"email": e}, format="json"))
        for email in ["new@example.com", "known@example.com", "bounced@example.com"]
    ]
    assert {r.status_code for r in answers} == {202}
    assert len({r.content for r in answers}) == 1
    # The bounced address got nothing; the known one a note that nothing changed.
    assert Subscriber.objects.get(email="bounced@example.com").status == SubscriberStatus.BOUNCED


def test_an_active_subscriber_gets_a_note_not_a_second_subscription(api_client, sent):
    SubscriberFactory(email="known@example.com")
    sent(lambda: api_client.post(SUBSCRIBE, {"email": "known@example.com"}, format="json"))
    assert len(mail.outbox) == 1 and "already" in mail.outbox[0].subject.lower()
    assert Subscriber.objects.get(email="known@example.com").status == SubscriberStatus.ACTIVE


def test_bad_input_is_a_400_with_the_field(api_client):
    for body in [{}, {"email": "not-an-address"}, {"email": "a" * 250 + "@x.io"}, {"email": ["x@y.z"]}]:
        response = api_client.post(SUBSCRIBE, body, format="json")
        assert response.status_code == 400, body
        assert "email" in response.json()["error"]["fields"], response.json()
    assert not Subscriber.objects.exists()


def test_sign_ups_are_limited_per_client_address(api_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "newsletter.subscribe": "3/hour"}
    codes = [
        api_client.post(SUBSCRIBE, {"email": f"n{i}@example.com"}, format="json", REMOTE_ADDR="203.0.113.9").status_code
        for i in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    assert api_client.post(SUBSCRIBE, {"email": "z@example.com"}, format="json", REMOTE_ADDR="203.0.113.10").status_code == 202


def test_confirmation_emails_are_limited_per_address(api_client, settings, sent):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "newsletter.confirmation": "2/hour"}
    total = 0
    for _ in range(4):
        sent(lambda: api_client.post(SUBSCRIBE, {"email": "victim@example.com"}, format="json"))
        total += len(mail.outbox)
    assert total == 2  # nobody can mail-bomb an address through the sign-up form


def test_a_tampered_or_expired_confirm_token_is_refused(client, sent, api_client):
    sent(lambda: api_client.post(SUBSCRIBE, {"email": "ada@example.com"}, format="json"))
    path = _link(mail.outbox[0], "confirm")
    token = path.split("/")[3]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in [tampered, "nonsense", tokens.manage_token(subscriber_id=Subscriber.objects.get().pk)]:
        assert client.get(f"/newsletter/confirm/{bad}/").status_code == 404
        assert client.post(f"/newsletter/confirm/{bad}/").status_code == 404
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING


def test_a_confirm_link_expires_after_seven_days(client, sent, api_client, time_machine):
    time_machine.move_to("2026-03-01T12:00:00Z", tick=False)
    sent(lambda: api_client.post(SUBSCRIBE, {"email": "ada@example.com"}, format="json"))
    path = _link(mail.outbox[0], "confirm")
    time_machine.move_to("2026-03-08T12:00:01Z", tick=False)
    assert client.post(path).status_code == 404
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING


def test_the_form_on_the_blog_and_in_the_footer_subscribes(client, sent):
    page = client.get("/blog/")
    assert b'action="/newsletter/"' in page.content
    response = sent(lambda: client.post("/newsletter/", {"email": "reader@example.com", "website": ""}))
    assert response.status_code == 302 and response["Location"] == "/newsletter/check-inbox/"
    assert Subscriber.objects.get().source == "form"
    assert len(mail.outbox) == 1
    bad = client.post("/newsletter/", {"email": "nope"})
    assert bad.status_code == 400 and b"valid email" in bad.content


def test_the_hidden_field_refuses_bots(client, sent):
    response = sent(lambda: client.post("/newsletter/", {"email": "bot@example.com", "website": "http://spam"}))
    assert response.status_code == 400  # generic, and counted against the address (docs/bot-detection.md)
    assert not Subscriber.objects.exists() and not mail.outbox


# --- Unsubscribing ---------------------------------------------------------------------------------


@pytest.fixture
def reader():
    return SubscriberFactory(email="reader@example.com")


def test_get_of_the_unsubscribe_link_changes_nothing(client, reader):
    path = reverse("newsletter_unsubscribe", args=[tokens.manage_token(subscriber_id=reader.pk)])
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200 and b"<form method=\"post\"" in page.content
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE


def test_the_confirm_page_post_unsubscribes_without_sign_in(reader):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)  # as a browser posting the page's form
    campaign = CampaignFactory(status="sent")
    Delivery.objects.create(campaign=campaign, subscriber=reader, email=reader.email, status="sent")
    path = reverse("newsletter_unsubscribe", args=[tokens.manage_token(subscriber_id=reader.pk, campaign_id=campaign.pk)])
    response = csrf_client.post(path)
    assert response.status_code == 200 and b"unsubscribed" in response.content
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED and reader.unsubscribed_at is not None
    assert Delivery.objects.get().unsubscribed_at is not None  # counted against that issue


def test_rfc8058_one_click_post_unsubscribes_at_once(reader):
    from django.test import Client

    provider = Client(enforce_csrf_checks=True)  # a mail provider: no cookies, no CSRF token
    path = reverse("newsletter_unsubscribe", args=[tokens.manage_token(subscriber_id=reader.pk)])
    response = provider.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED
    # Twice is fine: still unsubscribed, still 200.
    assert provider.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded").status_code == 200


def test_a_tampered_unsubscribe_token_is_refused(client, reader):
    token = tokens.manage_token(subscriber_id=reader.pk)
    forged = signing.dumps({"s": reader.pk}, salt="another.salt")
    for bad in [token[:-3] + "xyz", forged, "x"]:
        assert client.post(f"/newsletter/unsubscribe/{bad}/").status_code == 404
        assert client.get(f"/newsletter/preferences/{bad}/").status_code == 404
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE


def test_preferences_unsubscribe_resubscribe_and_change_address(client, reader, sent):
    path = reverse("newsletter_preferences", args=[tokens.manage_token(subscriber_id=reader.pk)])
    page = client.get(path)
    assert page.status_code == 200 and b"reader@example.com" in page.content

    client.post(path, {"action": "unsubscribe"})
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.UNSUBSCRIBED
    client.post(path, {"action": "resubscribe"})  # confirmed before: back at once
    reader.refresh_from_db()
    assert reader.status == SubscriberStatus.ACTIVE

    bad = client.post(path, {"action": "change_email", "email": "nope"})
    assert bad.status_code == 400
    sent(lambda: client.post(path, {"action": "change_email", "email": "New@Example.com"}))
    reader.refresh_from_db()
    assert reader.email == "reader@example.com"  # not until the new address confirms
    assert mail.outbox[0].to == ["new@example.com"]
    client.post(_link(mail.outbox[0], "confirm"))
    reader.refresh_from_db()
    assert reader.email == "new@example.com" and reader.status == SubscriberStatus.ACTIVE


def test_moving_to_an_address_already_on_the_list_is_refused(client, reader, sent):
    SubscriberFactory(email="taken@example.com")
    path = reverse("newsletter_preferences", args=[tokens.manage_token(subscriber_id=reader.pk)])
    sent(lambda: client.post(path, {"action": "change_email", "email": "taken@example.com"}))
    response = client.post(_link(mail.outbox[0], "confirm"))
    assert response.status_code == 409 and b"already on the list" in response.content
    reader.refresh_from_db()
    assert reader.email == "reader@example.com"


# --- Account settings --------------------------------------------------------------------------------


def test_signed_in_users_toggle_it_in_their_settings(client, sent):
    user = UserFactory(email="member@example.com")
    sign_in(client, user)
    assert client.get("/account/newsletter/").status_code == 200
    client.post("/account/newsletter/", {"subscribed": "on"})
    subscriber = Subscriber.objects.get()
    # A verified account email needs no second confirmation.
    assert subscriber.user == user and subscriber.status == SubscriberStatus.ACTIVE and subscriber.source == "account"
    client.post("/account/newsletter/", {})
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED


def test_an_unverified_account_email_is_asked_to_confirm(client, sent):
    user = UserFactory(email="fresh@example.com", verified=False)
    client.force_login(user)
    sent(lambda: client.post("/account/newsletter/", {"subscribed": "on"}))
    assert Subscriber.objects.get().status == SubscriberStatus.PENDING
    assert mail.outbox and mail.outbox[0].to == ["fresh@example.com"]


def test_the_account_page_needs_a_sign_in(client):
    response = client.get("/account/newsletter/")
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_account_newsletter_api(api_client, user_client, user):
    assert api_client.get("/api/me/newsletter/").status_code in (401, 403)
    assert user_client.get("/api/me/newsletter/").json() == {"subscribed": False, "status": "none", "email": user.email}
    response = user_client.put("/api/me/newsletter/", {"subscribed": True}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "active"
    response = user_client.put("/api/me/newsletter/", {"subscribed": False}, format="json")
    assert response.json() == {"subscribed": False, "status": "unsubscribed", "email": user.email}
    assert user_client.put("/api/me/newsletter/", {"subscribed": "maybe"}, format="json").status_code == 400


def test_signed_in_subscribe_through_the_api_links_the_account(user_client, user, sent):
    sent(lambda: user_client.post(SUBSCRIBE, {"email": user.email.upper()}, format="json"))
    assert Subscriber.objects.get().user == user


def test_a_campaign_is_a_valid_draft_with_just_a_subject(staff_user):
    from content.newsletter import services

    campaign = services.campaign_create(actor=staff_user, fields={"subject": "Hello"})
    assert Campaign.objects.get(pk=campaign.pk).status == "draft"
