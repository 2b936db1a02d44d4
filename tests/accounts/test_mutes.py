"""Muting a user, from their profile page or the API, listed in the notification settings: never
yourself, never someone else's list."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import UserMute
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _page(user):
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_gets_401(api_client, bob):
    assert api_client.post("/api/users/bob/mute/").status_code == 401
    assert api_client.delete("/api/users/bob/mute/").status_code == 401
    assert api_client.get("/api/me/mutes/").status_code == 401


def test_mute_and_unmute_through_the_api(alice, bob):
    api = _api(alice)
    first = api.post("/api/users/BOB/mute/")
    assert first.status_code == 200 and first.json()["username"] == "bob"
    assert api.post("/api/users/bob/mute/").status_code == 200  # twice is harmless
    assert UserMute.objects.filter(user=alice, muted=bob).count() == 1
    listed = api.get("/api/me/mutes/").json()
    assert [row["username"] for row in listed["results"]] == ["bob"]
    assert _api(bob).get("/api/me/mutes/").json()["results"] == []  # bob's own list is his
    assert api.delete("/api/users/bob/mute/").status_code == 204
    assert api.delete("/api/users/bob/mute/").status_code == 204
    assert not UserMute.objects.exists()


def test_you_cannot_mute_yourself_nor_an_unknown_user(alice):
    response = _api(alice).post("/api/users/alice/mute/")
    assert response.status_code == 400 and "username" in response.json()["error"]["fields"]
    assert _api(alice).post("/api/users/nobody-here/mute/").status_code == 404
    assert _api(alice).post("/api/users/bad%00name/mute/").status_code == 404
    assert not UserMute.objects.exists()


def test_staff_can_be_muted_and_mute_like_anyone(alice):
    staff = StaffFactory(username="mod")
    assert _api(alice).post("/api/users/mod/mute/").status_code == 200
    assert _api(staff).post("/api/users/alice/mute/").status_code == 200
    assert UserMute.objects.count() == 2


def test_the_mutes_list_has_a_constant_query_count(alice, django_assert_max_num_queries):
    api = _api(alice)
    for _ in range(3):
        UserMute.objects.create(user=alice, muted=UserFactory())
    with django_assert_max_num_queries(4) as few:
        api.get("/api/me/mutes/")
    for _ in range(10):
        UserMute.objects.create(user=alice, muted=UserFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get("/api/me/mutes/").json()["results"]) == 13


def test_the_profile_page_offers_mute_then_unmute(alice, bob):
    page = _page(alice)
    html = page.get("/u/bob/").content.decode()
    assert 'action="/u/bob/mute/"' in html and "csrfmiddlewaretoken" in html
    assert page.post("/u/bob/mute/").status_code == 302
    assert UserMute.objects.filter(user=alice, muted=bob).exists()
    assert 'action="/u/bob/unmute/"' in page.get("/u/bob/").content.decode()
    page.post("/u/bob/unmute/")
    assert not UserMute.objects.exists()


def test_no_mute_button_on_your_own_profile_or_when_signed_out(alice, bob):
    assert "/mute/" not in _page(alice).get("/u/alice/").content.decode()
    assert "/mute/" not in Client().get("/u/bob/").content.decode()
    assert Client().post("/u/bob/mute/").status_code == 302  # to sign-in
    assert _page(alice).get("/u/bob/mute/").status_code == 405
    _page(alice).post("/u/alice/mute/")
    assert not UserMute.objects.exists()


def test_the_page_form_needs_the_csrf_token(alice, bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/u/bob/mute/").status_code == 403
    assert not UserMute.objects.exists()


def test_the_settings_page_lists_mutes_and_unmutes(alice, bob):
    UserMute.objects.create(user=alice, muted=bob)
    page = _page(alice)
    html = page.get("/account/notifications/settings/").content.decode()
    assert "@bob" in html and 'action="/u/bob/unmute/"' in html
    response = page.post("/u/bob/unmute/", {"next": "settings"})
    assert response["Location"] == "/account/notifications/settings/"
    assert not UserMute.objects.exists()
