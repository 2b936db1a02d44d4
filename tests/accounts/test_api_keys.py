"""Personal API keys: created once, stored hashed, used as Bearer, revocable, expiring, never falling back."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import MAX_ACTIVE_KEYS_PER_USER, hash_api_key
from tests.factories import StaffFactory, UserFactory, sign_in

pytestmark = pytest.mark.django_db


def bearer(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_full_lifecycle_create_use_touch_revoke(user):
    session = APIClient()
    sign_in(session, user)
    response = session.post(reverse("api-key-list"), {"name": "laptop CLI"}, format="json")
    assert response.status_code == 201
    created = response.json()
    raw_key = created["key"]
    assert raw_key.startswith("aw_") and len(raw_key) > 40
    assert created["prefix"] == raw_key[:11]
    assert created["state"] == "active"

    stored = ApiKey.objects.get(pk=created["id"])
    assert stored.key_hash == hash_api_key(raw_key)
    assert raw_key not in str(ApiKey.objects.filter(pk=stored.pk).values().get())  # only the hash is stored
    assert stored.last_used_at is None

    client = bearer(raw_key)
    me = client.get(reverse("api-me"))
    assert me.status_code == 200 and me.json()["username"] == user.username
    stored.refresh_from_db()
    assert stored.last_used_at is not None

    listed = session.get(reverse("api-key-list")).json()
    assert listed["count"] == 1
    assert "key" not in listed["results"][0]  # never shown again

    assert session.delete(reverse("api-key-detail", args=[stored.pk])).status_code == 204
    response = client.get(reverse("api-me"))
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "revoked_api_key", "message": "This API key has been revoked."}


def test_last_used_is_written_at_most_once_a_minute(user, api_key_for):
    client = bearer(api_key_for(user))
    client.get(reverse("api-me"))
    first = ApiKey.objects.get(user=user).last_used_at
    client.get(reverse("api-me"))
    assert ApiKey.objects.get(user=user).last_used_at == first
    ApiKey.objects.filter(user=user).update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get(reverse("api-me"))
    assert ApiKey.objects.get(user=user).last_used_at > first


def test_expired_key_is_401(user, api_key_for):
    raw_key = api_key_for(user, expires_at=timezone.now() + timedelta(hours=1))
    ApiKey.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer(raw_key).get(reverse("api-me"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "expired_api_key"


@pytest.mark.parametrize("header", ["Bearer aw_not-a-real-key", "Bearer nonsense", "Bearer ", "bearer aw_x"])
def test_unknown_key_is_401_and_never_anonymous(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(reverse("api-profile", args=["anyone"]))  # an AllowAny endpoint
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"unknown_api_key", "invalid_api_key"}


def test_bad_key_does_not_fall_back_to_the_session(user):
    client = APIClient()
    client.force_login(user)
    client.credentials(HTTP_AUTHORIZATION="Bearer aw_forged")
    assert client.get(reverse("api-me")).status_code == 401


def test_inactive_users_key_is_refused(user, api_key_for):
    raw_key = api_key_for(user)
    user.is_active = False
    user.save()
    assert bearer(raw_key).get(reverse("api-me")).status_code == 401


def test_a_key_cannot_mint_another_key(user, api_key_for):
    response = bearer(api_key_for(user)).post(reverse("api-key-list"), {"name": "sneaky"}, format="json")
    assert response.status_code == 403
    assert ApiKey.objects.filter(user=user).count() == 1


def test_keys_can_expire_and_past_expiry_is_refused(user):
    client = APIClient()
    sign_in(client, user)
    soon = (timezone.now() + timedelta(days=7)).isoformat()
    assert client.post(reverse("api-key-list"), {"name": "ci", "expires_at": soon}, format="json").status_code == 201
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = client.post(reverse("api-key-list"), {"name": "ci", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["fields"]


def test_missing_name_is_a_field_error(user):
    client = APIClient()
    sign_in(client, user)
    response = client.post(reverse("api-key-list"), {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["name"]


def test_active_key_limit(user, api_key_for):
    for _ in range(MAX_ACTIVE_KEYS_PER_USER):
        api_key_for(user)
    client = APIClient()
    sign_in(client, user)
    response = client.post(reverse("api-key-list"), {"name": "one too many"}, format="json")
    assert response.status_code == 400
    assert "revoke one" in response.json()["error"]["fields"]["name"][0]


@pytest.mark.parametrize("who", ["anonymous", "other", "staff"])
def test_others_cannot_see_or_revoke_my_keys(user, api_key_for, who):
    api_key_for(user)
    key = ApiKey.objects.get(user=user)
    client = APIClient()
    if who != "anonymous":
        client.force_authenticate(UserFactory() if who == "other" else StaffFactory())
    detail = client.get(reverse("api-key-detail", args=[key.pk]))
    delete = client.delete(reverse("api-key-detail", args=[key.pk]))
    listed = client.get(reverse("api-key-list"))
    expected = 401 if who == "anonymous" else 404
    assert detail.status_code == expected and delete.status_code == expected
    if who != "anonymous":
        assert listed.json()["count"] == 0
    key.refresh_from_db()
    assert key.revoked_at is None


def test_state_filter(user, api_key_for):
    api_key_for(user, name="keep")
    api_key_for(user, name="drop")
    api_key_for(user, name="old")
    ApiKey.objects.filter(name="drop").update(revoked_at=timezone.now())
    ApiKey.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(days=1))
    client = APIClient()
    client.force_authenticate(user)

    def names(state):
        return [k["name"] for k in client.get(reverse("api-key-list"), {"state": state}).json()["results"]]

    assert names("active") == ["keep"]
    assert names("revoked") == ["drop"]
    assert names("expired") == ["old"]
    for bad in ["bogus", ""]:
        response = client.get(reverse("api-key-list"), {"state": bad})
        assert response.status_code == 400
        assert "state" in response.json()["error"]["fields"]


def test_create_api_key_command_prints_a_working_key(user):
    out = StringIO()
    call_command("create_api_key", user.email.upper(), "--name", "ops", stdout=out, stderr=StringIO())
    raw_key = out.getvalue().strip()
    assert bearer(raw_key).get(reverse("api-me")).json()["email"] == user.email
    assert ApiKey.objects.get(user=user).name == "ops"


def test_create_api_key_command_unknown_email():
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_key", "ghost@example.com", stdout=StringIO())


def test_api_keys_page_shows_new_key_once_and_revokes(client, user):
    sign_in(client, user)
    response = client.post(reverse("account_api_keys"), {"name": "from page", "expires_in_days": "30"})
    assert response.status_code == 200
    raw_key = response.context["new_key"]
    assert raw_key in response.content.decode()
    assert raw_key not in client.get(reverse("account_api_keys")).content.decode()
    key = ApiKey.objects.get(user=user)
    assert key.expires_at is not None
    client.post(reverse("account_api_key_revoke", args=[key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_api_keys_page_cannot_revoke_someone_elses_key(client, user, other_user, api_key_for):
    api_key_for(other_user)
    key = ApiKey.objects.get(user=other_user)
    client.force_login(user)
    assert client.post(reverse("account_api_key_revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_notifications_list_and_mark_read(user, other_user):
    from accounts.notifications import notification_send

    notification_send(user=user, kind="budget_warning", title="80% used")
    notification_send(user=other_user, kind="budget_warning", title="not yours")
    client = APIClient()
    client.force_authenticate(user)
    body = client.get("/api/notifications/", {"unread": "true"}).json()
    assert [n["title"] for n in body["results"]] == ["80% used"]
    assert client.post("/api/notifications/read/").json() == {"marked": 1}
    assert client.get("/api/notifications/", {"unread": "true"}).json()["count"] == 0
    assert client.get("/api/notifications/", {"unread": "maybe"}).status_code == 400
    assert APIClient().get("/api/notifications/").status_code == 401
    page = Client()
    page.force_login(user)
    assert "80% used" in page.get("/account/notifications/", follow=True).content.decode()
