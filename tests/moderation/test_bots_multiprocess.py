"""Two daphne processes sharing Redis count one window per address and share its block."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from django.conf import settings

from moderation import bots
from moderation.models import BotDetection
from tests.live import DaphneProcess

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: processes share Redis (CI sets it)"),
]

MAX = 40  # the rate signal passes the 0.8 threshold alone at 90% of it: the 37th request in the window
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


def status(server: DaphneProcess, path: str = "/docs/") -> int:
    request = urllib.request.Request(server.url + path, headers={"User-Agent": BROWSER})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def two_servers(tmp_path, reference_data):
    env = {"MODERATION_BOT_MAX_REQUESTS": str(MAX), "MODERATION_BOT_WINDOW_SECONDS": "600"}
    with DaphneProcess(env=env, log_dir=tmp_path) as a, DaphneProcess(env=env, log_dir=tmp_path) as b:
        yield a, b


def test_two_processes_count_one_window_and_share_the_block(two_servers):
    a, b = two_servers
    # 30 requests, alternating: 15 each. Under the limit together, so all are served.
    assert {status(server) for _ in range(15) for server in (a, b)} == {200}
    # Ten more, again alternating: each process has seen only 20, but together the address passes 36.
    statuses = [status(server) for _ in range(5) for server in (a, b)]
    first = statuses.index(429)
    assert 6 <= first <= 8 and set(statuses[first:]) == {429}, statuses  # the 37th-39th request overall
    # Both processes refuse, and one detection was written.
    assert status(a, "/blog/") == 429 and status(b, "/blog/") == 429
    assert BotDetection.objects.count() == 1
    assert bots.block_for("127.0.0.1") is not None  # the block is in the shared cache this process reads too
