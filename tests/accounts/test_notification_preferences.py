"""Per-kind notification preferences: in-app only or also the daily digest, from one registry of kinds,
through the API (strictly validated) and the settings page; security notices stay emailed at once."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import NotificationPreference
from accounts.notification_kinds import KINDS
from accounts.notifications import notification_send
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/me/notification-preferences/"
DEFAULTS = {
    "mention": "digest",
    "forum_reply": "digest",
    "forum_solution": "digest",
    "reaction": "in_app",
    "budget_warning": "immediate",
    "api_key_created": "immediate",
    "moderation": "immediate",
    "project_deleted": "immediate",
}


def test_anonymous_gets_401(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.put(URL, {"mention": "in_app"}, format="json").status_code == 401


def test_defaults_cover_every_kind_of_the_registry(user_client):
    response = user_client.get(URL)
    assert response.status_code == 200 and response.json() == DEFAULTS
    assert set(DEFAULTS) == set(KINDS)


def test_put_changes_the_named_kinds_only_and_only_for_you(user_client, user, other_user, key_client):
    response = user_client.put(URL, {"mention": "in_app", "reaction": "digest"}, format="json")
    assert response.status_code == 200
    assert response.json() == {**DEFAULTS, "mention": "in_app", "reaction": "digest"}
    assert key_client.get(URL).json()["mention"] == "in_app"  # an API key reads the same account
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.get(URL).json() == DEFAULTS
    # Putting back what GET returned is accepted, immediate notices included.
    assert user_client.put(URL, response.json(), format="json").status_code == 200
    assert NotificationPreference.objects.filter(user=user).count() == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mentions": "digest"}, "mentions"),  # a misspelt kind is not silently dropped
        ({"mention": "email"}, "mention"),
        ({"mention": 1}, "mention"),
        ({"mention": None}, "mention"),
        ({"api_key_created": "in_app"}, "api_key_created"),  # a security notice cannot be silenced
        ({"budget_warning": "digest"}, "budget_warning"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(user_client, user, body, field):
    response = user_client.put(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_a_body_that_is_not_an_object_is_a_400(user_client):
    assert user_client.put(URL, ["mention"], format="json").status_code == 400


def test_security_notices_keep_their_immediate_email(user, django_capture_on_commit_callbacks):
    from agentwise.models import OutboundEmail

    with django_capture_on_commit_callbacks(execute=True):
        notification_send(user=user, kind="api_key_created", title="A new API key was created", email=True)
    assert OutboundEmail.objects.filter(kind="accounts/email/notification", to=[user.email]).count() == 1


def test_an_unknown_kind_cannot_be_sent(user):
    with pytest.raises(ValueError, match="notification_kinds"):
        notification_send(user=user, kind="made_up", title="?")


@pytest.fixture
def page(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_settings_page_shows_and_saves_choices(page, user):
    html = page.get("/account/notifications/settings/").content.decode()
    assert 'name="mention" value="digest"' in html and "A new API key is created on your account" in html
    assert 'name="api_key_created"' not in html  # shown, not choosable
    response = page.post(
        "/account/notifications/settings/",
        {"mention": "in_app", "forum_reply": "digest", "forum_solution": "digest", "reaction": "digest"},
    )
    assert response.status_code == 302
    assert dict(NotificationPreference.objects.filter(user=user).values_list("kind", "delivery")) == {
        "mention": "in_app",
        "forum_reply": "digest",
        "forum_solution": "digest",
        "reaction": "digest",
    }


def test_the_settings_page_refuses_a_bad_choice(page, user):
    response = page.post("/account/notifications/settings/", {"mention": "everything"})
    assert response.status_code == 200 and "field-error" in response.content.decode()
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_the_settings_page_needs_sign_in_and_the_old_address_still_redirects(page):
    assert Client().get("/account/notifications/settings/").status_code == 302
    moved = page.get("/account/notifications/")
    assert moved.status_code == 301 and moved["Location"] == "/notifications/"
    assert "/account/notifications/settings/" in page.get("/notifications/").content.decode()


def test_another_users_page_post_never_changes_yours(user):
    intruder = Client()
    intruder.force_login(UserFactory())
    intruder.post(
        "/account/notifications/settings/",
        {"mention": "in_app", "forum_reply": "in_app", "forum_solution": "in_app", "reaction": "in_app"},
    )
    assert not NotificationPreference.objects.filter(user=user).exists()
