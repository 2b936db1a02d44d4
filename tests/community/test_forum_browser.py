"""The forum in a real Chromium on a real daphne: a forum channel in /community/ lists its topics (not a
chat), a topic opens on /forum/, the composer's preview shows the server's rendering, and a reply posts.

Skipped without Debian's chromium, as ``test_browser.py``; CI installs it and runs this.
"""

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection

from community.models import Channel, ForumReply
from community.services import forum_post_create, forum_reply_create, forum_solution_mark
from tests.community.test_browser import CHROMIUM, CHROMIUM_FLAGS
from tests.factories import UserFactory
from tests.live import DaphneProcess, session_cookie_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"
    ),
]


@contextmanager
def signed_in_page(server, cookie):
    """A Chromium page on the daphne server, signed in with ``cookie``; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
            yield context.new_page()
        finally:
            browser.close()


def _off_the_event_loop(function, **kwargs):
    """Playwright's sync API runs an event loop in this thread, where Django refuses database calls."""

    def call():
        try:
            return function(**kwargs)
        finally:
            connection.close()  # the thread's own connection, not left open at teardown

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def server(tmp_path):
    with DaphneProcess(log_dir=tmp_path) as daphne:
        yield daphne


def test_forum_channel_lists_topics_and_the_topic_page_previews_and_posts_a_reply(server):
    from playwright.sync_api import expect

    forum = Channel.objects.create(name="help", type="forum", category="Forums")
    author = UserFactory(username="author")
    post = forum_post_create(
        actor=author, channel=forum, title="How do I <deploy>?", content="Steps **please**"
    )
    ada = UserFactory(username="ada")
    cookie = session_cookie_for(ada)

    with signed_in_page(server, cookie) as page:
        page.goto(f"{server.url}/community/#{forum.pk}")
        expect(page.locator("#channel-title")).to_contain_text("help", timeout=15_000)
        topic_link = page.locator("#messages .forum-topic-item a").first
        expect(topic_link).to_have_text(
            "How do I <deploy>?", timeout=10_000
        )  # a title is text, never markup
        expect(page.locator("#composer")).to_be_hidden()  # not a chat
        expect(page.locator("#messages .forum-links a", has_text="New topic")).to_have_attribute(
            "href", f"/forum/{forum.pk}/new/"
        )

        topic_link.click()
        page.wait_for_url(
            f"{server.url}{post.get_absolute_url()}"
        )  # the short link redirected to the canonical one
        expect(page.locator("h1")).to_contain_text("How do I <deploy>?")

        page.locator("#id_content").fill("Use **daphne**:\n\n```python\nprint('<script>')\n```")
        page.locator("[data-preview-button]").click()
        output = page.locator("[data-preview-output]")
        expect(output.locator("strong")).to_have_text("daphne", timeout=10_000)
        expect(output.locator("pre.highlight code.language-python span.nb")).to_have_text("print")
        assert output.locator("script").count() == 0
        page.locator("#reply button[type=submit]").click()
        page.wait_for_url(f"{server.url}{post.get_absolute_url()}#reply-*")
        expect(page.locator(".forum-reply .forum-body strong")).to_have_text("daphne")

    assert ForumReply.objects.get(post=post).author_id == ada.pk


def test_a_reply_posted_elsewhere_appears_live_on_an_open_topic_page(server):
    """forum_live.js: the page watches its topic over /ws/; a reply made through the service (as the API
    or another browser would) shows up without a reload, its markup sanitised and its name as text."""
    from playwright.sync_api import expect

    forum = Channel.objects.create(name="help", type="forum", category="Forums")
    author = UserFactory(username="author")
    post = forum_post_create(actor=author, channel=forum, title="Live topic", content="Question")
    reader = UserFactory(username="reader")
    cookie = session_cookie_for(reader)

    with signed_in_page(server, cookie) as page:
        page.goto(f"{server.url}{post.get_absolute_url()}")
        expect(page.locator("#forum-no-replies")).to_be_visible()
        expect(page.locator("#forum-replies")).to_have_attribute("data-live", "on", timeout=15_000)

        reply = _off_the_event_loop(
            forum_reply_create,
            actor=author,
            post=post,
            content='Try **this**<img src=x onerror="document.title=\'pwned\'"> and <script>x()</script>',
        )
        live = page.locator(f"#reply-{reply.pk}")
        expect(live.locator(".forum-body strong")).to_have_text("this", timeout=10_000)
        expect(live.locator(".forum-topic-meta a").first).to_have_text("@author")
        expect(page.locator("#forum-no-replies")).to_have_count(0)
        assert live.locator("script").count() == 0
        assert live.locator("[onerror]").count() == 0
        assert page.title() != "pwned"

        _off_the_event_loop(forum_solution_mark, actor=author, reply=reply)  # an update changes the reply in place
        expect(live.locator(".badge-solved")).to_have_text("✓ Solution", timeout=10_000)
        expect(page.locator(f"#reply-{reply.pk}")).to_have_count(1)
