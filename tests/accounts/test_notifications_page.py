"""The notifications page and badge: every notification listed (paginated), marked read one at a time or
all at once, in the page and through the API; nobody reaches another person's notifications."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _notify(user, count=1, **fields):
    return [Notification.objects.create(user=user, kind="budget_warning", title=f"Notice {i}", **fields) for i in range(count)]


@pytest.fixture
def member():
    return UserFactory()


@pytest.fixture
def page(member):
    client = Client()
    client.force_login(member)
    return client


def test_the_badge_counts_unread_and_the_page_lists_them(page, member):
    _notify(member, 3)
    _notify(UserFactory(), 5)  # someone else's
    home = page.get("/").content.decode()
    assert 'data-unread-count>3<' in home and 'aria-label="Notifications, 3 unread"' in home
    listing = page.get("/notifications/")
    assert listing.status_code == 200 and listing.content.decode().count("Mark read") == 3


def test_mark_one_then_all(page, member):
    first, second, third = _notify(member, 3)
    page.post("/notifications/", {"id": str(second.pk)})
    assert set(Notification.objects.filter(read_at__isnull=True).values_list("pk", flat=True)) == {first.pk, third.pk}
    page.post("/notifications/", {})
    assert not Notification.objects.filter(user=member, read_at__isnull=True).exists()
    assert "data-unread-count" not in page.get("/").content.decode()


def test_nobody_marks_someone_elses(page, member):
    [theirs] = _notify(UserFactory())
    page.post("/notifications/", {"id": str(theirs.pk)})
    page.post("/notifications/", {"id": "not-a-uuid"})
    theirs.refresh_from_db()
    assert theirs.read_at is None
    api = APIClient()
    api.force_authenticate(member)
    assert api.post(f"/api/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_page_is_paginated_with_a_constant_query_count(page, member, django_assert_max_num_queries):
    _notify(member, 30)
    with django_assert_max_num_queries(12):
        first = page.get("/notifications/")
    assert first.content.decode().count("Mark read") == 25 and "page=2" in first.content.decode()
    assert page.get("/notifications/?page=2").content.decode().count("Mark read") == 5
    _notify(member, 100)
    with django_assert_max_num_queries(12):
        page.get("/notifications/")


def test_the_old_address_and_anonymous_visitors(page, client):
    assert page.get("/account/notifications/")["Location"] == "/notifications/"
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_api_marks_one_read(member):
    [notification] = _notify(member)
    api = APIClient()
    api.force_authenticate(member)
    response = api.post(f"/api/notifications/{notification.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"] is not None
    assert APIClient().post(f"/api/notifications/{notification.pk}/read/").status_code == 401
