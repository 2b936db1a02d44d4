"""Minting a key needs a recent sign-in from a browser session, and tells the owner it happened."""

import time

import pytest
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey, Notification
from tests.factories import TEST_PASSWORD, UserFactory, make_api_key, sign_in

pytestmark = pytest.mark.django_db


def _age_sign_in(client, seconds: int) -> None:
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [{"method": "password", "at": time.time() - seconds}]
    session.save()


def test_a_fresh_sign_in_may_mint_a_key_and_the_owner_is_told(user, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    client = sign_in(APIClient(), user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/keys/", {"name": "laptop"}, format="json")
    assert response.status_code == 201
    notice = Notification.objects.get(user=user, kind="api_key_created")
    assert notice.title == "A new API key was created" and response.json()["prefix"] in notice.body
    assert [m.subject for m in mail.outbox if user.email in m.to] == ["A new API key was created"]


def test_an_old_session_must_sign_in_again_over_the_api(user):
    client = sign_in(APIClient(), user)
    _age_sign_in(client, 3600)
    response = client.post("/api/keys/", {"name": "laptop"}, format="json")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "reauthentication_required"
    assert error["reauthenticate_url"].startswith("/account/reauthenticate/")
    assert not ApiKey.objects.filter(user=user).exists()


def test_an_old_session_is_sent_to_reauthenticate_on_the_page_then_the_key_is_made(user):
    client = sign_in(Client(), user)
    _age_sign_in(client, 3600)
    response = client.post("/account/api-keys/", {"name": "from page"})
    assert response.status_code == 302 and response["Location"].startswith("/account/reauthenticate/")
    assert not ApiKey.objects.filter(user=user).exists()
    resumed = client.post(response["Location"], {"password": TEST_PASSWORD}, follow=True)
    assert resumed.status_code == 200
    assert ApiKey.objects.filter(user=user, name="from page").exists()  # allauth resumed the suspended POST


def test_a_key_cannot_mint_another_key_however_fresh(user):
    key = make_api_key(user)[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.post("/api/keys/", {"name": "child"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_minting_is_rate_limited(user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "accounts.api_key": "2/hour"}
    client = sign_in(APIClient(), user)
    statuses = [client.post("/api/keys/", {"name": f"k{i}"}, format="json").status_code for i in range(3)]
    assert statuses == [201, 201, 429]


def test_staff_revoke_any_key_in_the_admin_but_not_through_the_api(user):
    moderator = UserFactory(is_staff=True, is_superuser=True)
    api_key = make_api_key(user)[0]
    staff_api = APIClient()
    staff_api.force_authenticate(moderator)
    assert staff_api.delete(f"/api/keys/{api_key.pk}/").status_code == 404  # like anyone else through the API
    admin = Client()
    admin.force_login(moderator)
    admin.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [str(api_key.pk)]})
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
