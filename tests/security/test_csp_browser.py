"""The Content-Security-Policy in a real Chromium on a real daphne: the pages that run the most script
(Swagger UI, Redoc, the chat with its websocket, the admin) work with no CSP violation, confirm prompts run
from site.js, and a payload that reached a page could not run.

Skipped without Debian's chromium, as ``tests/community/test_browser.py``; CI installs it and runs this.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.conf import settings

from community.models import Channel
from projects import services as project_services
from projects.models import Project
from tests.community.test_browser import CHROMIUM, CHROMIUM_FLAGS
from tests.community.test_forum_browser import _off_the_event_loop
from tests.factories import StaffFactory, UserFactory
from tests.live import DaphneProcess, session_cookie_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture
def server(tmp_path, reference_data):
    with DaphneProcess(log_dir=tmp_path) as daphne:
        yield daphne


@contextmanager
def browser_page(server, cookie=None):
    """A Chromium page on ``server``; ``page.violations`` collects what the CSP refused (Chromium logs each)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context()
            if cookie:
                context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
            page = context.new_page()
            page.violations, page.console = [], []
            page.on("console", lambda m: page.console.append(m.text))
            page.on("console", lambda m: "Content Security Policy" in m.text and page.violations.append(m.text))
            page.dialogs, page.accept_dialogs = [], False
            page.on("dialog", lambda d: (page.dialogs.append(d.message), d.accept() if page.accept_dialogs else d.dismiss()))
            yield page
        finally:
            browser.close()


def test_swagger_ui_and_redoc_render_under_the_policy(server):
    from playwright.sync_api import expect

    with browser_page(server) as page:
        page.goto(f"{server.url}/api/docs/")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Agentwise API", timeout=20_000)
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
        assert page.violations == []

        page.goto(f"{server.url}/api/redoc/")
        # Redoc fetches and parses the whole schema before it draws anything.
        try:
            expect(page.locator("h1").first).to_contain_text("Agentwise API", timeout=60_000)
        except AssertionError as error:
            raise AssertionError(f"{error}\nconsole: {page.console}") from None
        page.wait_for_timeout(500)
        assert page.violations == []


def test_the_chat_connects_its_websocket_under_connect_src_self(server):
    from playwright.sync_api import expect

    Channel.objects.create(name="general", category="Community")
    cookie = session_cookie_for(UserFactory(username="ada"))
    with browser_page(server, cookie) as page:
        page.goto(f"{server.url}/community/")
        expect(page.locator("#status")).to_have_text("live", timeout=15_000)
        expect(page.locator("#channel-title")).to_contain_text("general")
        assert page.violations == []


def test_a_confirm_prompt_runs_from_site_js_and_holds_the_form(server):
    from playwright.sync_api import expect

    owner = UserFactory(username="owner")
    project = project_services.project_create(actor=owner, data={"name": "Apollo", "type": "cli"})
    cookie = session_cookie_for(owner)

    def status():
        return Project.objects.get(pk=project.pk).status

    with browser_page(server, cookie) as page:
        page.goto(f"{server.url}/projects/{project.pk}/settings/")
        page.get_by_role("button", name="Delete project").click()  # dismissed: nothing posted
        page.wait_for_timeout(500)
        assert page.dialogs == ["Delete this project? You can restore it for 30 days."]
        assert _off_the_event_loop(status) == "active"

        page.accept_dialogs = True
        page.get_by_role("button", name="Delete project").click()
        expect(page.locator(".messages")).to_be_visible(timeout=10_000)
        assert _off_the_event_loop(status) == "deleted"
        assert page.violations == []


def test_the_admin_runs_under_the_policy(server):
    from playwright.sync_api import expect

    staff = StaffFactory(username="boss", is_superuser=True)
    cookie = session_cookie_for(staff)
    with browser_page(server, cookie) as page:
        page.goto(f"{server.url}/admin/accounts/user/")
        expect(page.locator("#result_list")).to_be_visible(timeout=15_000)
        page.goto(f"{server.url}/admin/content/campaign/add/")
        expect(page.locator("#campaign_form")).to_be_visible(timeout=15_000)
        page.wait_for_timeout(500)
        assert page.violations == []


def test_a_script_that_reached_a_page_would_not_run(server):
    """Defence in depth: were the sanitiser to miss something, the policy still refuses inline script.
    The admin's campaign preview is our own HTML and is served sandboxed; a page of ours with a script
    injected into its DOM by a (simulated) hole runs nothing."""
    with browser_page(server) as page:
        page.goto(f"{server.url}/pricing/")
        page.evaluate("""() => {
            const holder = document.createElement('div');
            holder.innerHTML = '<img src="x" onerror="alert(1)"><a id="j" href="javascript:alert(2)">x</a>';
            document.body.appendChild(holder);
            const script = document.createElement('script');
            script.textContent = 'alert(3)';
            document.body.appendChild(script);
        }""")
        page.locator("#j").click()
        page.wait_for_timeout(500)
        assert page.dialogs == []
        assert len(page.violations) >= 2  # the handler and the inline script were refused, and reported


@pytest.fixture
def server_with_github(tmp_path, reference_data):
    env = {"GITHUB_CLIENT_ID": "test-client", "GITHUB_CLIENT_SECRET": "test-secret"}
    with DaphneProcess(log_dir=tmp_path, env=env) as daphne:
        yield daphne


def test_a_form_that_redirects_to_a_sign_in_provider_is_not_refused(server_with_github):
    """Chromium checks the redirect that answers a form POST against form-action too: signing in with
    GitHub (a POST to us, answered with a redirect to github.com) needs github.com there. Without a network
    the browser cannot reach GitHub; what matters is that it tried, and that the policy did not refuse it."""
    with browser_page(server_with_github) as page:
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{server_with_github.url}/account/login/")
        page.get_by_role("link", name="GitHub").click()  # allauth's confirmation page: signing in is a POST
        page.get_by_role("button", name="Continue").click()
        page.wait_for_timeout(2000)
        assert any(url.startswith("https://github.com/login/oauth/authorize") for url in requested), requested
        assert page.violations == []
