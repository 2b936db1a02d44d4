"""The forum in a real Chromium on a real daphne: a forum channel in /community/ lists its topics (not a
chat), a topic opens on /forum/, the composer's preview shows the server's rendering, and a reply posts.

Skipped without Debian's chromium, as ``test_browser.py``; CI installs it and runs this.
"""

import pytest
from django.conf import settings

from community.models import Channel, ForumReply
from community.services import forum_post_create
from tests.community.test_browser import CHROMIUM, CHROMIUM_FLAGS
from tests.factories import UserFactory
from tests.live import DaphneProcess, session_cookie_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def server(tmp_path):
    with DaphneProcess(log_dir=tmp_path) as daphne:
        yield daphne


def test_forum_channel_lists_topics_and_the_topic_page_previews_and_posts_a_reply(server):
    from playwright.sync_api import expect, sync_playwright

    forum = Channel.objects.create(name="help", type="forum", category="Forums")
    author = UserFactory(username="author")
    post = forum_post_create(
        actor=author, channel=forum, title="How do I <deploy>?", content="Steps **please**"
    )
    ada = UserFactory(username="ada")
    cookie = session_cookie_for(ada)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
            page = context.new_page()
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
        finally:
            browser.close()

    assert ForumReply.objects.get(post=post).author_id == ada.pk
