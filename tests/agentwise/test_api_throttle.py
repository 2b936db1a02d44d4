"""The per-user API throttle: DRF's sliding-window rule, kept in one Redis round trip (agentwise.api.throttling)."""

import pytest
from django.urls import reverse
from rest_framework.settings import api_settings

from agentwise.api import throttling
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_a_minute():
    throttling.UserRateThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "user": "3/min"}
    yield
    throttling.UserRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def _client(user, api_key_for):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user)}")
    return client


def test_the_window_slides_and_a_refusal_is_not_counted(three_a_minute, api_key_for, time_machine):
    time_machine.move_to("2026-12-07 10:00:00Z", tick=False)
    client = _client(UserFactory(), api_key_for)
    url = reverse("api-key-list")
    statuses = []
    for second in (0, 10, 20, 30, 59):
        time_machine.move_to(f"2026-12-07 10:00:{second:02d}Z", tick=False)
        statuses.append(client.get(url).status_code)
    assert statuses == [200, 200, 200, 429, 429]
    # DRF's Retry-After: what is left of the oldest request's minute, shared by the free slots (one).
    time_machine.move_to("2026-12-07 10:00:30Z", tick=False)
    response = client.get(url)
    assert response.status_code == 429 and response["Retry-After"] == "30"
    # At 10:01:00 the request of 10:00:00 leaves the window (a request exactly a window old is out);
    # the refused ones were never recorded, so one slot is free, then none until 10:01:10.
    time_machine.move_to("2026-12-07 10:01:00Z", tick=False)
    assert [client.get(url).status_code for _ in range(2)] == [200, 429]
    time_machine.move_to("2026-12-07 10:01:10Z", tick=False)
    assert client.get(url).status_code == 200


def test_each_user_has_their_own_window(three_a_minute, api_key_for):
    first, second = _client(UserFactory(), api_key_for), _client(UserFactory(), api_key_for)
    url = reverse("api-key-list")
    assert [first.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert second.get(url).status_code == 200


def test_on_redis_one_round_trip_and_no_cache_entry(three_a_minute, api_key_for, settings):
    """On Redis the window is a sorted set updated by one script call; other caches use DRF's code."""
    from django.core.cache import cache

    if throttling._redis_client() is None:
        pytest.skip("the cache is not Redis (REDIS_URL unset): DRF's own implementation serves")
    user = UserFactory()
    client = _client(user, api_key_for)
    client.get(reverse("api-key-list"))
    assert cache.get(f"throttle_user_{user.pk}") is None  # not DRF's pickled list
    assert throttling._redis_client().zcard(cache.make_key(f"throttle-window_user_{user.pk}")) == 1
