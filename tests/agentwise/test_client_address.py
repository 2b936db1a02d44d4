"""Client addresses come from the trusted-proxy count: a forged X-Forwarded-For never dodges a per-IP limit."""

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import AnonRateThrottle
from twisted.web.http_headers import Headers

from agentwise.daphne import take_client_address_from_trusted_proxies
from agentwise.net import client_ip
from tests.factories import UserFactory
from tests.live import DaphneProcess

PEER = "198.51.100.9"


def _request(forwarded_for=None, peer=PEER):
    extra = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("trusted", "forwarded_for", "expected"),
    [
        (0, None, PEER),
        (0, "203.0.113.5", PEER),
        (0, "6.6.6.6, 203.0.113.5", PEER),
        (1, None, PEER),
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "6.6.6.6, 7.7.7.7, 203.0.113.5", "203.0.113.5"),
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "203.0.113.5", "203.0.113.5"),  # fewer entries than proxies: the left-most, not a 500
        (1, "6.6.6.6, 203.0.113.5:4431", "203.0.113.5"),
        (1, "[2001:db8::7]:443", "2001:db8::7"),
        (1, "6.6.6.6, not-an-address", None),
    ],
)
def test_client_ip_of_a_request_counts_trusted_proxies_from_the_right(settings, trusted, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    assert client_ip(_request(forwarded_for)) == expected


def test_client_ip_of_an_asgi_scope_joins_repeated_headers_as_django_does(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    scope = {"client": [PEER, 5000], "headers": [(b"x-forwarded-for", b"6.6.6.6"), (b"X-Forwarded-For", b"203.0.113.5")]}
    assert client_ip(scope) == "203.0.113.5"
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(scope) == PEER


def test_drf_anonymous_throttle_ignores_a_forged_forwarded_for_by_default():
    """The project's settings as they load (DJANGO_TRUSTED_PROXY_COUNT unset): DRF keyed on the whole header."""
    throttle = AnonRateThrottle()

    def key(**headers):
        return throttle.get_cache_key(Request(APIRequestFactory().get("/api/", REMOTE_ADDR=PEER, **headers)), view=None)

    forged = {key(HTTP_X_FORWARDED_FOR=value) for value in ("1.1.1.1", "2.2.2.2", "3.3.3.3, 4.4.4.4")}
    assert forged == {key()}


@pytest.mark.parametrize(
    ("trusted", "expected_addr", "expected_scheme"),
    [(0, ["10.0.0.9", 5000], "http"), (1, ["203.0.113.5", 0], "https"), (2, ["6.6.6.6", 0], "https")],
)
def test_daphne_proxy_headers_take_the_entry_our_proxies_wrote(settings, trusted, expected_addr, expected_scheme):
    from daphne import http_protocol, ws_protocol

    take_client_address_from_trusted_proxies()
    settings.TRUSTED_PROXY_COUNT = trusted
    raw = {b"X-Forwarded-For": [b"6.6.6.6, 203.0.113.5"], b"X-Forwarded-Proto": [b"https"]}
    args = ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", ["10.0.0.9", 5000], "http")
    # HTTP requests pass Twisted's Headers, websocket handshakes a dict of single values.
    assert http_protocol.parse_x_forwarded_for(Headers(raw), *args) == (expected_addr, expected_scheme)
    ws_headers = {name.lower(): values[0] for name, values in raw.items()}
    assert ws_protocol.parse_x_forwarded_for(ws_headers, *args) == (expected_addr, expected_scheme)


# --- A real daphne, started the way the Procfile starts it --------------------------------------


class Browser:
    """urllib with cookies, against one daphne process; every request carries the given X-Forwarded-For."""

    def __init__(self, server):
        self.server = server
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, path, *, forwarded_for, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(f"{self.server.url}{path}", data=body, headers={"X-Forwarded-For": forwarded_for})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def failed_sign_in(self, email, *, forwarded_for):
        token = next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")
        data = {"login": email, "password": "not-the-password", "csrfmiddlewaretoken": token}
        status, body = self.request("/account/login/", forwarded_for=forwarded_for, data=data)
        return "too many" if "Too many failed login attempts" in body else status


@pytest.fixture
def daphne(tmp_path):
    started = []

    def start(**env):
        # Bot detection off unless asked: these tests pin allauth's and DRF's own per-address limits,
        # which it would otherwise pre-empt (it blocks a failed-sign-in flood sooner, docs/bot-detection.md).
        env = {"API_THROTTLE_ANON": "3/min", "MODERATION_BOT_DETECTION": "0", **env}
        server = DaphneProcess(log_dir=tmp_path, launcher=True, env=env)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def confirmed_emails(transactional_db):
    """Each attempt names another account, so only the per-IP limits can stop them (5 per account)."""
    return [UserFactory().email for _ in range(40)]


def _browser(server):
    browser = Browser(server)
    browser.request("/account/login/", forwarded_for="192.0.2.1")  # sets the CSRF cookie
    return browser


@pytest.mark.django_db(transaction=True)
def test_forged_forwarded_for_does_not_dodge_the_sign_in_limit(daphne, confirmed_emails):
    browser = _browser(daphne())
    statuses = [
        browser.failed_sign_in(email, forwarded_for=f"203.0.113.{i}") for i, email in enumerate(confirmed_emails)
    ]
    # allauth per IP: 10 failed sign-ins a minute, then the form refuses to check more; 30 posts, then 429.
    assert statuses == [200] * 10 + ["too many"] * 20 + [429] * 10


@pytest.mark.django_db(transaction=True)
def test_forged_forwarded_for_does_not_dodge_the_bot_block(daphne, confirmed_emails, settings):
    from moderation.models import BotDetection

    browser = _browser(daphne(MODERATION_BOT_DETECTION="1"))
    statuses = [
        browser.failed_sign_in(email, forwarded_for=f"203.0.113.{i}") for i, email in enumerate(confirmed_emails[:20])
    ]
    first = statuses.index(429)
    assert first <= settings.MODERATION_BOT_FAILED_SIGN_INS and set(statuses[:first]) == {200}
    assert set(statuses[first:]) == {429}
    assert BotDetection.objects.get().ip_address == "127.0.0.1"  # the peer, not a forged entry


@pytest.mark.django_db(transaction=True)
def test_behind_one_proxy_the_right_most_entry_is_the_client(daphne, confirmed_emails):
    browser = _browser(daphne(DJANGO_TRUSTED_PROXY_COUNT="1"))
    statuses = [
        browser.failed_sign_in(email, forwarded_for=f"6.6.{i}.6, 203.0.113.1")
        for i, email in enumerate(confirmed_emails[:31])
    ]
    assert statuses == [200] * 10 + ["too many"] * 20 + [429]
    # Another client behind the same proxy has its own allowance.
    assert browser.failed_sign_in(confirmed_emails[31], forwarded_for="6.6.6.6, 203.0.113.2") == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("trusted", "forwarded", "other_client"),
    [("0", "203.0.113.{i}", None), ("1", "6.6.{i}.6, 203.0.113.1", "6.6.6.6, 203.0.113.2")],
)
def test_the_api_anonymous_throttle_keys_on_the_same_address(daphne, trusted, forwarded, other_client):
    server = daphne(DJANGO_TRUSTED_PROXY_COUNT=trusted)
    browser = Browser(server)
    statuses = [browser.request("/api/profiles/nobody/", forwarded_for=forwarded.format(i=i))[0] for i in range(4)]
    assert statuses == [404, 404, 404, 429]
    if other_client:
        status, body = browser.request("/api/profiles/nobody/", forwarded_for=other_client)
        assert (status, json.loads(body)["error"]["code"]) == (404, "not_found")
