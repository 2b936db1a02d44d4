"""Every API error has one JSON shape, for every status; nothing answers HTML or 500 on bad input."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_400_has_field_errors(user_client):
    error = assert_error(user_client.patch(reverse("api-me"), {"website": "nope"}, format="json"), 400, "invalid")
    assert list(error["fields"]) == ["website"]


def test_400_on_malformed_json(user_client):
    response = user_client.generic("PATCH", reverse("api-me"), "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_401_without_credentials(api_client):
    assert_error(api_client.get(reverse("api-me")), 401, "not_authenticated")


def test_403_csrf_for_session_writes(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert_error(client.patch(reverse("api-me"), {}, format="json"), 403, "permission_denied")


def test_404_for_unknown_api_path_is_json(api_client):
    assert_error(api_client.get("/api/does-not-exist/"), 404, "not_found")


def test_404_for_unknown_object(user_client):
    assert_error(user_client.get(reverse("api-key-detail", args=["6d0f0d0e-0000-4000-8000-000000000000"])), 404, "not_found")


def test_404_for_malformed_id(user_client):
    assert_error(user_client.get("/api/keys/not-a-uuid/"), 404, "not_found")


def test_405(user_client):
    # /api/me/ answers DELETE now (account deletion); a list has no DELETE.
    assert_error(user_client.delete(reverse("project-list")), 405, "method_not_allowed")


def test_413_for_oversize_body(user_client, settings):
    settings.API_MAX_REQUEST_BYTES = 1000
    response = user_client.patch(reverse("api-me"), {"bio": "x" * 5000}, format="json")
    error = assert_error(response, 413, "request_too_large")
    assert error["limit"] == 1000


def test_415_for_unsupported_media_type(user_client):
    response = user_client.generic("PATCH", reverse("api-me"), "<xml/>", content_type="application/xml")
    assert_error(response, 415, "unsupported_media_type")


def test_429_when_throttled(api_client, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import AnonRateThrottle

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "anon": "3/min"}
    AnonRateThrottle.THROTTLE_RATES = rates
    try:
        statuses = [api_client.get(reverse("api-profile", args=["nobody"])).status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        response = api_client.get(reverse("api-profile", args=["nobody"]))
        error = assert_error(response, 429, "rate_limited")
        assert error["retry_after"] >= 1
        assert int(response["Retry-After"]) >= 1
    finally:
        AnonRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_non_api_404_is_an_html_page(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Page not found" in response.content.decode()


@pytest.mark.parametrize("page_size", ["false", "0", "101", "-1", "1.5"])
def test_invalid_page_size_is_a_400_not_a_silent_default(user_client, page_size):
    error = assert_error(user_client.get(reverse("api-key-list"), {"page_size": page_size}), 400, "invalid")
    assert "page_size" in error["fields"]


def test_a_page_past_the_end_is_a_404(user_client):
    assert_error(user_client.get(reverse("api-key-list"), {"page": "99"}), 404, "not_found")


@pytest.mark.parametrize("page", ["", "true", "0", "last", "1.0", "١", ["1", "2"], "9" * 5000])
def test_a_malformed_or_repeated_page_is_a_400_not_page_one(user_client, page):
    error = assert_error(user_client.get(reverse("api-key-list"), {"page": page}), 400, "invalid")
    assert error["fields"] == {"page": ["Must be one integer of at least 1."]}


@pytest.mark.parametrize("value", ["", "   ", ["active", "revoked"]])
def test_an_empty_or_repeated_filter_is_a_400(user_client, value):
    error = assert_error(user_client.get(reverse("api-key-list"), {"state": value}), 400, "invalid")
    assert "state" in error["fields"]


def test_numbers_are_not_silently_turned_into_strings(user_client):
    error = assert_error(user_client.patch(reverse("api-me"), {"full_name": 42, "bio": ["x"]}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"full_name", "bio"}


def test_unknown_api_path_with_control_characters_is_json(api_client):
    assert_error(api_client.get("/api/profiles/a%0Ab%0D/"), 404, "not_found")
    assert_error(api_client.get("/api/profiles/%00/"), 404, "not_found")


def test_json_nested_too_deep_for_the_decoder_is_a_400(user_client):
    body = '{"name": "x", "settings": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = user_client.post("/api/projects/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("credentials", ["api_key", "session"])
def test_a_write_to_an_unknown_api_path_is_a_404_not_a_csrf_failure(user, api_key_for, method, credentials):
    # Django's test client skips CSRF checks unless asked; a real client has no CSRF cookie with a key.
    client = Client(enforce_csrf_checks=True)
    headers = {}
    if credentials == "api_key":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {api_key_for(user)}"
    else:
        client.force_login(user)
    response = getattr(client, method)("/api/no-such-thing/", {"a": 1}, content_type="application/json", **headers)
    assert_error(response, 404, "not_found")
