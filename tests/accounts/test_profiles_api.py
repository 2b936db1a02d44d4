"""Profiles: public to read, only the owner updates; private fields never leak."""

import pytest
from django.urls import reverse

from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PRIVATE_KEYS = {"email", "stripe_customer_id", "metadata", "subscription_status", "subscription_tier", "id"}


@pytest.fixture
def ada(db):
    user = UserFactory(username="ada", email="ada@example.com")
    profile = user.profile
    profile.full_name = "Ada Lovelace"
    profile.bio = "Engines."
    profile.stripe_customer_id = "cus_secret123"
    profile.metadata = {"internal": "note"}
    profile.save()
    return user


@pytest.mark.parametrize("who", ["anonymous", "other", "owner", "staff"])
def test_public_profile_is_readable_by_everyone_without_private_fields(api_client, ada, who):
    if who == "other":
        api_client.force_authenticate(UserFactory())
    elif who == "owner":
        api_client.force_authenticate(ada)
    elif who == "staff":
        api_client.force_authenticate(StaffFactory())
    response = api_client.get(reverse("api-profile", args=["ADA"]))
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "ada"
    assert body["full_name"] == "Ada Lovelace"
    assert not PRIVATE_KEYS & body.keys()
    assert "cus_secret123" not in response.content.decode()
    assert "ada@example.com" not in response.content.decode()


def test_unknown_and_inactive_profiles_are_404(api_client, ada):
    assert api_client.get(reverse("api-profile", args=["nobody"])).status_code == 404
    ada.is_active = False
    ada.save()
    assert api_client.get(reverse("api-profile", args=["ada"])).json()["error"]["code"] == "not_found"


def test_public_profile_page_escapes_user_content(client, ada):
    ada.profile.bio = "<script>alert(1)</script>"
    ada.profile.save()
    response = client.get("/u/ada/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "ada@example.com" not in html and "cus_secret123" not in html


def test_me_requires_authentication(api_client):
    response = api_client.get(reverse("api-me"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_shows_private_fields_to_the_owner_only(api_client, ada):
    api_client.force_authenticate(ada)
    body = api_client.get(reverse("api-me")).json()
    assert body["email"] == "ada@example.com"
    assert body["subscription_tier"] == "free"
    assert "stripe_customer_id" not in body and "metadata" not in body


def test_owner_updates_own_profile_and_handle(api_client, ada):
    api_client.force_authenticate(ada)
    response = api_client.patch(
        reverse("api-me"),
        {"full_name": "Augusta Ada King", "username": "countess", "website": "https://example.org", "bio": ""},
        format="json",
    )
    assert response.status_code == 200, response.content
    ada.refresh_from_db()
    assert ada.username == "countess"
    assert ada.profile.full_name == "Augusta Ada King"
    assert ada.profile.website == "https://example.org"


def test_read_only_fields_cannot_be_changed_through_me(api_client, ada):
    api_client.force_authenticate(ada)
    api_client.patch(
        reverse("api-me"),
        {"subscription_tier": "enterprise", "email": "evil@example.com", "metadata": {"x": 1}},
        format="json",
    )
    ada.refresh_from_db()
    assert ada.profile.subscription_tier == "free"
    assert ada.email == "ada@example.com"
    assert ada.profile.metadata == {"internal": "note"}


def test_put_is_not_allowed_on_me(api_client, ada):
    api_client.force_authenticate(ada)
    response = api_client.put(reverse("api-me"), {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"username": "x"}, "username"),
        ({"username": "admin"}, "username"),
        ({"website": "not a url"}, "website"),
        ({"github_username": "@bad handle"}, "github_username"),
        ({"full_name": "x" * 300}, "full_name"),
    ],
)
def test_invalid_profile_updates_get_field_errors(api_client, ada, payload, field):
    api_client.force_authenticate(ada)
    response = api_client.patch(reverse("api-me"), payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


def test_username_taken_case_insensitively(api_client, ada):
    UserFactory(username="Grace")
    api_client.force_authenticate(ada)
    response = api_client.patch(reverse("api-me"), {"username": "grace"}, format="json")
    assert response.status_code == 400
    assert "taken" in response.json()["error"]["fields"]["username"][0]


def test_session_writes_need_csrf(ada):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(ada)
    response = client.patch(reverse("api-me"), {"full_name": "No token"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_settings_page_updates_profile_and_uploads_avatar(client, ada):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), "purple").save(buffer, format="PNG")
    client.force_login(ada)
    response = client.post(
        reverse("account_settings"),
        {
            "username": "ada",
            "full_name": "Ada L.",
            "bio": "Hello",
            "avatar": SimpleUploadedFile("me.png", buffer.getvalue(), content_type="image/png"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    ada.profile.refresh_from_db()
    assert ada.profile.full_name == "Ada L."
    assert ada.profile.avatar.name.startswith(f"avatars/{ada.pk}/")
    assert client.get("/u/ada/").content.decode().count(ada.profile.avatar.url) >= 1


def test_settings_page_refuses_a_file_that_is_not_an_image(client, ada):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(ada)
    response = client.post(
        reverse("account_settings"),
        {"username": "ada", "avatar": SimpleUploadedFile("me.png", b"not an image", content_type="image/png")},
    )
    assert response.status_code == 200
    assert "valid image" in response.content.decode()


def test_settings_pages_require_login(client):
    for name in ["account_settings", "account_api_keys", "account_security"]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
