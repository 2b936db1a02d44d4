"""Two people in two real Chromium contexts on a real daphne: one types and sends, the other sees it live.

Drives Debian's ``chromium`` through Playwright (no downloaded browser). CI installs chromium and sets
``CI``, so there the test runs or fails; on a laptop without chromium it is skipped with the reason.
"""

import os
import shutil

import pytest
from django.conf import settings

from community.models import Channel, Message
from community.services import message_post
from tests.factories import StaffFactory, UserFactory
from tests.live import DaphneProcess, session_cookie_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]

if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI must run the browser test: install Debian's chromium (.ci/run does)")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def server(tmp_path):
    with DaphneProcess(log_dir=tmp_path) as daphne:
        yield daphne


def test_typing_and_message_reach_the_other_browser_live(server):
    from playwright.sync_api import expect, sync_playwright

    general = Channel.objects.create(name="general", category="Community", position=0)
    moderator = StaffFactory(username="mod")
    moderator.profile.full_name = "Ada Lovelace"  # a display name anyone may choose…
    moderator.profile.save()
    message_post(actor=moderator, channel=general, content="welcome")
    ada = UserFactory(username="ada")
    ada.profile.full_name = "Ada Lovelace"
    ada.profile.save()
    bob = UserFactory(username="bob")
    cookies = {user.username: session_cookie_for(user) for user in (ada, bob)}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            pages = {}
            for username in ("bob", "ada"):  # bob first: he is already in the room when ada arrives
                context = browser.new_context()
                context.add_cookies([{
                    "name": settings.SESSION_COOKIE_NAME, "value": cookies[username],
                    "url": server.url,
                }])
                page = context.new_page()
                page.goto(f"{server.url}/community/")
                expect(page.locator("#status")).to_have_text("live", timeout=15_000)
                expect(page.locator("#channel-title")).to_contain_text("general")
                pages[username] = page
            ada_page, bob_page = pages["ada"], pages["bob"]

            # …but the handle and the staff badge only the server grants tell them apart.
            welcome = bob_page.locator("#messages .chat-message").first
            expect(welcome.locator(".handle")).to_have_text("@mod")
            expect(welcome.locator(".badge-staff")).to_have_text("staff")

            # Presence: bob sees ada come online.
            expect(bob_page.locator("#online-list")).to_contain_text("Ada Lovelace", timeout=10_000)

            # Typing: ada types, bob sees the indicator; ada's own page does not show herself.
            ada_page.locator("#composer-input").press_sequentially("hello bob", delay=20)
            expect(bob_page.locator("#typing")).to_have_text("Ada Lovelace is typing…", timeout=10_000)
            expect(ada_page.locator("#typing")).to_have_text("")

            # Enter sends: bob sees the message live and the typing indicator clears.
            ada_page.locator("#composer-input").press("Enter")
            expect(bob_page.locator("#messages .chat-message").last).to_contain_text("hello bob", timeout=10_000)
            expect(bob_page.locator("#typing")).to_have_text("", timeout=10_000)
            expect(ada_page.locator("#composer-input")).to_have_value("")

            # The unique @handle is shown beside the chosen name; controls follow the server's flags:
            # ada may edit her message, bob (not staff) may not, and nobody wears a staff badge.
            on_bob = bob_page.locator("#messages .chat-message").last
            expect(on_bob.locator(".handle")).to_have_text("@ada")
            assert on_bob.locator("button", has_text="Edit").count() == 0
            assert on_bob.locator(".badge-staff").count() == 0
            expect(ada_page.locator("#messages .chat-message").last.locator("button", has_text="Edit")).to_have_count(1)

            # Shift+Enter is a newline, not a send; markup typed by a user is shown as text.
            bob_page.locator("#composer-input").press_sequentially("<b>two</b>")
            bob_page.locator("#composer-input").press("Shift+Enter")
            bob_page.locator("#composer-input").press_sequentially("lines")
            expect(bob_page.locator("#composer-input")).to_have_value("<b>two</b>\nlines")
            bob_page.locator("#composer-input").press("Enter")
            last_on_ada = ada_page.locator("#messages .chat-message").last
            expect(last_on_ada).to_contain_text("<b>two</b>", timeout=10_000)
            assert last_on_ada.locator("b").count() == 0
        finally:
            browser.close()

    assert list(Message.objects.order_by("seq").values_list("content", flat=True)) == ["welcome", "hello bob", "<b>two</b>\nlines"]
