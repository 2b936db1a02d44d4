"""Bot detection as it happens: requests from real test clients on distinct addresses, scored and blocked
by the middleware (docs/bot-detection.md)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from content.models import Subscriber
from moderation import bots
from moderation.models import AllowListEntry, BotDetection
from tests.factories import StaffFactory, UserFactory, sign_in

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
SCANNER_IP = "203.0.113.66"
BROWSER_IP = "198.51.100.20"
SCANNER_PATHS = ["/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/", "/wp-admin/setup-config.php", "/xmlrpc.php",
                 "/admin/.env", "/backup.sql", "/cgi-bin/luci", "/vendor/phpunit/src/Util/PHP/eval-stdin.php"]
BROWSER_PAGES = ["/", "/blog/", "/docs/", "/pricing/", "/newsletter/"]

pytestmark = pytest.mark.django_db


def scanner(ip=SCANNER_IP, **headers) -> Client:
    return Client(REMOTE_ADDR=ip, **headers)  # the test client sends no User-Agent at all


def browser(ip=BROWSER_IP) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=BROWSER, HTTP_ACCEPT="text/html")


def flood(client, count=40):
    return [client.get(SCANNER_PATHS[i % len(SCANNER_PATHS)]) for i in range(count)]


def test_a_scanner_is_blocked_while_a_browser_on_another_address_is_served_throughout():
    bot, person = scanner(), browser()
    pages = [page for page in BROWSER_PAGES if person.get(page).status_code == 200]
    assert len(pages) >= 3  # the browser's pages exist and answer 200 before anything happens
    statuses = []
    for i in range(300):
        statuses.append(bot.get(SCANNER_PATHS[i % len(SCANNER_PATHS)]).status_code)
        if i % 10 == 0:
            assert person.get(pages[(i // 10) % len(pages)]).status_code == 200, f"browser refused at {i}"
    first_block = statuses.index(429)
    assert set(statuses[:first_block]) <= {404, 302}  # 302: a slash appended, to a 404
    assert set(statuses[first_block:]) == {429}  # blocked for good once detected, within a handful of probes
    assert first_block < 20
    refused = bot.get("/wp-login.php")
    assert refused.status_code == 429 and 3500 < int(refused["Retry-After"]) <= 3600
    assert b"Slow down" in refused.content and refused["Content-Type"].startswith("text/html")
    # The API answers JSON in the one error shape, and every door of that address is shut.
    api = bot.get("/api/projects/")
    assert api.status_code == 429 and api.json()["error"]["code"] == "blocked" and api["Retry-After"]
    assert bot.get("/").status_code == 429
    detection = BotDetection.objects.get()  # one row for the whole flood
    assert detection.ip_address == SCANNER_IP and detection.is_blocked and detection.confidence_score > 0.8
    assert {"scanner_paths", "odd_agent", "not_found_burst"} <= set(detection.request_pattern["signals"])
    assert person.get("/").status_code == 200


def test_a_curious_person_trying_one_scanner_path_is_not_blocked():
    person = browser()
    assert person.get("/.env").status_code == 404
    assert person.get("/wp-login.php").status_code == 404
    for _ in range(20):
        assert person.get("/").status_code == 200
    assert not BotDetection.objects.exists()


def test_a_command_line_client_is_weighed_not_blocked():
    curl = Client(REMOTE_ADDR=SCANNER_IP, HTTP_USER_AGENT="curl/8.5.0")
    for _ in range(60):
        assert curl.get("/").status_code == 200
    assert not BotDetection.objects.exists()


def test_the_request_rate_alone_blocks(settings):
    settings.MODERATION_BOT_MAX_REQUESTS = 40
    person = browser()
    statuses = [person.get("/healthz/").status_code for _ in range(100)]  # health checks are never counted
    assert set(statuses) == {200}
    statuses = [person.get("/docs/").status_code for _ in range(45)]
    assert statuses[0] == 200 and statuses[-1] == 429
    assert statuses.index(429) >= 36  # the rate alone passes 0.8 at 90% of the maximum
    assert BotDetection.objects.get().request_pattern["signals"]["rate"] > 0.8


def test_a_busy_signed_in_api_client_is_paced_by_the_api_throttle_not_blocked(settings):
    """The same pace from an API key is the API's to bound (429 from its throttle, for a moment), never a
    60-minute block of the address."""
    from tests.factories import make_api_key

    settings.MODERATION_BOT_MAX_REQUESTS = 40
    _, secret = make_api_key(UserFactory())
    cli = Client(REMOTE_ADDR="192.0.2.46", HTTP_USER_AGENT="agentwise-cli/1.0", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert {cli.get("/api/projects/").status_code for _ in range(80)} == {200}
    assert not BotDetection.objects.exists()


def test_health_endpoints_are_served_to_a_blocked_address():
    flood(scanner())
    assert scanner().get("/wp-login.php").status_code == 429
    assert scanner().get("/healthz/").status_code == 200


def test_static_files_are_neither_counted_nor_refused(settings):
    settings.MODERATION_BOT_MAX_REQUESTS = 10
    settings.WHITENOISE_USE_FINDERS = True  # WhiteNoise serves from the app folders, as under DEBUG
    person = browser()
    for _ in range(30):
        response = person.get("/static/css/site.css")
        assert response.status_code == 200
        response.close()
    assert person.get("/").status_code == 200
    flood(scanner())
    static = scanner().get("/static/css/site.css")
    assert static.status_code == 200  # WhiteNoise answers before the middleware


def test_the_block_check_costs_no_database_query():
    bot = scanner()
    flood(bot)
    with CaptureQueriesContext(connection) as queries:
        for path in ("/wp-login.php", "/", "/api/projects/", "/blog/"):
            assert bot.get(path).status_code == 429
    assert len(queries) == 0, [q["sql"] for q in queries]


def test_a_block_ends_at_blocked_until(time_machine, settings):
    settings.MODERATION_BOT_BLOCK_MINUTES = 30
    time_machine.move_to("2026-06-01T12:00:00Z", tick=False)
    bot = scanner()
    flood(bot)
    detection = BotDetection.objects.get()
    assert detection.blocked_until.isoformat() == "2026-06-01T12:30:00+00:00"
    time_machine.move_to("2026-06-01T12:29:00Z", tick=False)
    refused = bot.get("/")
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    time_machine.move_to("2026-06-01T12:30:01Z", tick=False)
    assert bot.get("/").status_code == 200
    assert not bots.detection_is_active(BotDetection.objects.get())


def test_honeypot_on_sign_up_refuses_the_submission_and_scores_heavily():
    person = browser()
    form = person.get("/account/signup/")
    assert b'name="website"' in form.content and b'class="hp"' in form.content
    data = {"email": "bot@example.com", "username": "botty", "password1": "a-Long-pass-123", "password2": "a-Long-pass-123"}
    refused = person.post("/account/signup/", {**data, "website": "http://spam.example"})
    assert refused.status_code == 400 and b"could not accept" in refused.content
    assert b"Leave this empty" not in refused.content  # generic: it never says which field gave it away
    assert not User.objects.filter(email="bot@example.com").exists()
    assert not BotDetection.objects.exists()  # one filled honeypot refuses; it does not block a browser
    accepted = person.post("/account/signup/", {**data, "website": ""})
    assert accepted.status_code == 302 and User.objects.filter(email="bot@example.com").exists()


def test_a_bot_filling_honeypots_is_blocked():
    bot = Client(REMOTE_ADDR=SCANNER_IP, HTTP_USER_AGENT="python-requests/2.32")
    data = {"email": "x@example.com", "username": "xbot", "password1": "a-Long-pass-123", "password2": "a-Long-pass-123"}
    assert bot.post("/account/signup/", {**data, "website": "1"}).status_code == 400
    assert bot.post("/newsletter/", {"email": "x@example.com", "website": "1"}).status_code == 400
    assert bot.get("/").status_code == 429
    assert BotDetection.objects.get().request_pattern["signals"]["honeypot"] == 1.0


def test_honeypot_on_subscribe_refuses_and_an_empty_one_subscribes():
    person = browser()
    assert b'class="hp"' in person.get("/blog/").content  # the footer/blog form carries it too
    refused = person.post("/newsletter/", {"email": "bot@example.com", "website": "http://spam"})
    assert refused.status_code == 400 and not Subscriber.objects.exists()
    accepted = person.post("/newsletter/", {"email": "reader@example.com", "website": ""})
    assert accepted.status_code == 302 and Subscriber.objects.filter(email="reader@example.com").exists()


def test_a_flood_of_failed_sign_ins_blocks_the_address_and_not_the_account(settings):
    victim = UserFactory(email="victim@example.com")
    victim.set_password("right-password-1")
    victim.save()
    attacker = Client(REMOTE_ADDR=SCANNER_IP, HTTP_USER_AGENT=BROWSER)
    statuses = [
        # credential stuffing: another account each time (allauth itself stops 5 failures on one)
        attacker.post("/account/login/", {"login": f"user{i}@example.com", "password": f"guess-{i}"}).status_code
        for i in range(settings.MODERATION_BOT_FAILED_SIGN_INS + 1)
    ]
    assert statuses[-1] == 429 and statuses[0] == 200
    detection = BotDetection.objects.get()
    assert detection.request_pattern["signals"]["failed_sign_ins"] == 1.0
    owner = browser()
    signed_in = owner.post("/account/login/", {"login": "victim@example.com", "password": "right-password-1"})
    assert signed_in.status_code == 302


def test_an_allow_listed_range_is_never_blocked():
    AllowListEntry.objects.create(network="203.0.113.0/24", note="our monitor")
    bot = scanner()
    assert 429 not in {r.status_code for r in flood(bot, 100)}
    assert not BotDetection.objects.exists()


def test_allow_listing_an_address_serves_it_at_once_even_while_blocked():
    bot = scanner()
    flood(bot)
    assert bot.get("/").status_code == 429
    AllowListEntry.objects.create(network=SCANNER_IP)  # the cached list is dropped on save
    assert bot.get("/").status_code == 200


def test_an_allow_listed_user_and_staff_are_served_from_a_blocked_address():
    allowed, staff, other = UserFactory(), StaffFactory(), UserFactory()
    AllowListEntry.objects.create(user=allowed)
    flood(scanner())  # someone else behind the same address (an office NAT) got it blocked
    for person, expected in ((allowed, 200), (staff, 200), (other, 429)):
        client = sign_in(Client(REMOTE_ADDR=SCANNER_IP, HTTP_USER_AGENT=BROWSER), person)
        assert client.get("/").status_code == expected, person
        assert client.get("/no-such-page/").status_code == (404 if expected == 200 else 429)


def test_an_allow_listed_api_key_user_is_served_from_a_blocked_address(api_key_for):
    allowed = UserFactory()
    AllowListEntry.objects.create(user=allowed)
    flood(scanner())
    client = Client(REMOTE_ADDR=SCANNER_IP, HTTP_AUTHORIZATION=f"Bearer {api_key_for(allowed)}")
    assert client.get("/api/projects/").status_code == 200
    stranger = Client(REMOTE_ADDR=SCANNER_IP, HTTP_AUTHORIZATION=f"Bearer {api_key_for(UserFactory())}")
    assert stranger.get("/api/projects/").status_code == 429


def test_staff_flooding_404s_are_never_blocked():
    staff = sign_in(Client(REMOTE_ADDR=SCANNER_IP), StaffFactory())
    assert 429 not in {r.status_code for r in flood(staff, 80)}
    assert not BotDetection.objects.exists()


def test_a_signed_in_user_over_the_rate_is_blocked_on_their_address(settings):
    settings.MODERATION_BOT_MAX_REQUESTS = 30
    member = UserFactory()
    client = sign_in(Client(REMOTE_ADDR=BROWSER_IP, HTTP_USER_AGENT=BROWSER), member)
    statuses = [client.get("/").status_code for _ in range(35)]
    assert statuses[-1] == 429
    assert BotDetection.objects.get().user == member


def test_forwarded_for_is_believed_only_from_trusted_proxies(settings):
    bot = scanner(ip="10.0.0.2", HTTP_X_FORWARDED_FOR=SCANNER_IP)
    flood(bot)
    assert BotDetection.objects.get().ip_address == "10.0.0.2"  # no trusted proxy: the peer
    BotDetection.objects.all().delete()
    bots.windows_forget("ip:10.0.0.2")
    settings.TRUSTED_PROXY_COUNT = 1
    proxied = Client(REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR=f"6.6.6.6, {SCANNER_IP}")
    flood(proxied)
    assert BotDetection.objects.get().ip_address == SCANNER_IP
    # Another client behind the same proxy is a different address, served.
    other = Client(REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR=BROWSER_IP, HTTP_USER_AGENT=BROWSER)
    assert other.get("/").status_code == 200


def test_detection_can_be_switched_off(settings):
    settings.MODERATION_BOT_DETECTION = False
    assert 429 not in {r.status_code for r in flood(scanner(), 60)}
    assert not BotDetection.objects.exists()


def test_concurrent_detections_write_one_row():
    first = bots.bot_block(address=SCANNER_IP, score=0.9, pattern={})
    second = bots.bot_block(address=SCANNER_IP, score=0.95, pattern={})
    assert first is not None and second is None and BotDetection.objects.count() == 1


@pytest.mark.parametrize(
    ("counts", "blocked"),
    [
        ({"requests": 1, "odd_agent": 1}, False),
        ({"requests": 60, "odd_agent": 60}, False),  # an API script without a user agent
        ({"requests": 30, "errors": 30, "not_found": 30}, False),  # a broken link checker, with a browser UA
        ({"requests": 5, "odd_agent": 5, "scanner_paths": 5, "errors": 5, "not_found": 5}, True),
        ({"requests": 3, "odd_agent": 3, "scanner_agent": 3, "errors": 1, "not_found": 1}, True),
        ({"requests": 1, "honeypot": 1}, False),
        ({"requests": 2, "honeypot": 2, "odd_agent": 2}, True),
        ({"requests": 8, "failed_sign_ins": 8}, True),
        ({"requests": 600}, True),
        ({"requests": 500}, False),
    ],
)
def test_scores(counts, blocked, settings):
    assert (bots.confidence(bots.signal_strengths(counts)) > settings.MODERATION_BOT_THRESHOLD) is blocked


@pytest.mark.parametrize(
    ("path", "agent", "scanner_path", "odd"),
    [
        ("/wp-login.php", "", True, True),
        ("/.env", BROWSER, True, False),
        ("/.git/HEAD", "sqlmap/1.8", True, True),
        ("/docs/environment/", BROWSER, False, False),
        ("/blog/wp-guide/", BROWSER, False, False),
        ("/", "python-requests/2.32", False, True),
        ("/", "Mozilla/5.0 (compatible; Nikto/2.5)", False, True),
    ],
)
def test_request_signals(path, agent, scanner_path, odd):
    counts = bots.request_signals(path=path, status=404, user_agent=agent)
    assert bool(counts.get("scanner_paths")) is scanner_path and bool(counts.get("odd_agent")) is odd


@pytest.mark.parametrize(
    "agent, tool",
    [("python-httpx/0.28.1", False), ("httpx/1.6.0 (projectdiscovery)", True), ("sqlmap/1.8", True), (BROWSER, False)],
)
def test_the_python_httpx_library_is_a_generic_client_not_a_scanner_tool(agent, tool):
    counts = bots.request_signals(path="/", status=200, user_agent=agent)
    assert bool(counts.get("scanner_agent")) is tool


def test_a_cache_outage_serves_pages_instead_of_failing_them(monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(bots, "block_for", down)
    assert browser().get("/").status_code == 200
    monkeypatch.undo()
    monkeypatch.setattr(bots, "windows_hit", down)
    assert browser().get("/").status_code == 200


def test_an_api_client_with_a_key_making_many_bad_requests_is_not_taken_for_a_bot():
    """A script (python-requests) that sends hundreds of invalid bodies and unknown ids gets its 400s and
    404s, never a block: signed-in callers answer for their own errors, only scanners' traces count."""
    from tests.factories import make_api_key

    _, secret = make_api_key(UserFactory())
    script = Client(REMOTE_ADDR="192.0.2.44", HTTP_USER_AGENT="python-requests/2.32.3", HTTP_AUTHORIZATION=f"Bearer {secret}")
    statuses = set()
    for i in range(120):
        if i % 2:
            statuses.add(script.post("/api/projects/", data="{}", content_type="application/json").status_code)
        else:
            statuses.add(script.get(f"/api/projects/00000000-0000-0000-0000-{i:012d}/").status_code)
    assert statuses == {400, 404}
    assert not BotDetection.objects.exists()
    anonymous = Client(REMOTE_ADDR="192.0.2.45", HTTP_USER_AGENT="python-requests/2.32.3")
    # The same script unsigned, probing unknown URLs, is a scanner.
    assert 429 in {anonymous.get(f"/api/nothing-{i}/").status_code for i in range(120)}
