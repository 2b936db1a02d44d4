"""Blog pages: the list, tags, a post, staff previews, slug redirects, scheduling, caching, SEO tags."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from content import cache, revisions, services
from content.blog_views import PAGE_SIZE
from content.models import BlogPost, PublicationStatus
from content.tasks import publish_due_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BODY = [
    {"type": "paragraph", "text": "Agents save tokens when they **reuse** context."},
    {"type": "code", "language": "bash", "text": "pytest -x -q"},
    {"type": "callout", "style": "tip", "text": "Keep diffs small."},
]


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://agentwise.example"


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Runs the services' on-commit work (dropping cached pages) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def make_post(
    staff, title="Saving tokens", *, status=PublicationStatus.PUBLISHED, published_at=None, **fields
):
    return services.blog_post_create(
        actor=staff,
        fields={"title": title, "content": BODY, **fields},
        status=status,
        published_at=published_at,
    )


class Page(HTMLParser):
    """What a browser reads in a page's head, and the text of its main element."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.meta_all: list[tuple[str, str]] = []
        self.links: dict[str, str] = {}
        self.title = ""
        self.scripts = 0
        self.iframes: list[str] = []
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        values = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in values or "name" in values):
            key = values.get("property") or values.get("name")
            self.meta[key] = values.get("content", "")
            self.meta_all.append((key, values.get("content", "")))
        elif tag == "link" and "rel" in values:
            self.links[values["rel"]] = values.get("href", "")
        elif tag == "title":
            self._in_title = True
        elif tag == "script" and not values.get("src", "").startswith("/static/"):
            self.scripts += 1  # not ours: the site's own scripts are static files
        elif tag == "iframe":
            self.iframes.append(values.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def titles_on(client, url="/blog/") -> list[str]:
    """Post titles linked from a list page, in order."""
    response = client.get(url)
    assert response.status_code == 200
    found = []

    class Cards(HTMLParser):
        in_h2 = False

        def handle_starttag(self, tag, attrs):
            if tag == "h2":
                self.in_h2 = True

        def handle_endtag(self, tag):
            if tag == "h2":
                self.in_h2 = False

        def handle_data(self, data):
            if self.in_h2 and data.strip():
                found.append(data.strip())

    Cards().feed(response.content.decode())
    return found


def views_of(post) -> int:
    return BlogPost.objects.values_list("view_count", flat=True).get(pk=post.pk)


# --- the list --------------------------------------------------------------------------------------


def test_the_list_shows_public_posts_newest_first_to_everyone(client, staff_user, user):
    now = timezone.now()
    make_post(staff_user, "Older", published_at=now - timedelta(days=2))
    make_post(staff_user, "Newer", published_at=now - timedelta(days=1))
    make_post(staff_user, "A draft", status=PublicationStatus.DRAFT)
    make_post(staff_user, "Scheduled", published_at=now + timedelta(days=1))
    make_post(staff_user, "Archived", status=PublicationStatus.ARCHIVED)
    assert titles_on(client) == ["Newer", "Older"]
    client.force_login(user)
    assert titles_on(client) == ["Newer", "Older"]
    client.force_login(staff_user)  # staff manage drafts in the admin; the list is the public one
    assert titles_on(client) == ["Newer", "Older"]


def test_an_empty_blog_says_so(client):
    response = client.get("/blog/")
    assert response.status_code == 200
    assert "No posts yet" in response.content.decode()


def test_the_list_is_paginated_and_a_bad_page_is_a_404(client, staff_user):
    now = timezone.now()
    for number in range(PAGE_SIZE + 2):
        make_post(staff_user, f"Post {number:02d}", published_at=now - timedelta(hours=number + 1))
    first = titles_on(client)
    assert first == [f"Post {n:02d}" for n in range(PAGE_SIZE)]
    assert titles_on(client, "/blog/?page=2") == [f"Post {n:02d}" for n in range(PAGE_SIZE, PAGE_SIZE + 2)]
    page = Page(client.get("/blog/?page=2").content.decode())
    assert page.links["canonical"] == "https://agentwise.example/blog/?page=2"
    for bad in ("3", "0", "-1", "x", "1.0", "9" * 7):
        assert client.get(f"/blog/?page={bad}").status_code == 404, bad
    assert client.get("/blog/?page=1&page=2").status_code == 404


def test_tag_pages_and_the_tag_filter(client, staff_user):
    make_post(staff_user, "About costs", tags=["Token Costs", "agents"])
    make_post(staff_user, "About agents", tags=["agents"])
    make_post(staff_user, "Draft on costs", status=PublicationStatus.DRAFT, tags=["token-costs"])
    assert titles_on(client, "/blog/tag/token-costs/") == ["About costs"]
    assert titles_on(client, "/blog/?tag=token-costs") == ["About costs"]
    assert titles_on(client, "/blog/tag/agents/") == ["About agents", "About costs"]
    # The filter's canonical page is the tag page.
    page = Page(client.get("/blog/?tag=agents").content.decode())
    assert page.links["canonical"] == "https://agentwise.example/blog/tag/agents/"
    # A tag no public post has is not a page (nor a cache entry); neither is a malformed one.
    assert client.get("/blog/tag/nothing-here/").status_code == 404
    assert client.get("/blog/?tag=Token%20Costs").status_code == 404
    assert client.get("/blog/?tag=").status_code == 404
    # The post page links its tags.
    post_page = client.get("/blog/about-costs/").content.decode()
    assert 'href="/blog/tag/token-costs/"' in post_page


# --- a post --------------------------------------------------------------------------------------


def test_a_public_post_renders_its_blocks_and_counts_each_view(client, staff_user, user):
    post = make_post(staff_user, featured_image="/media/blog/cover.png", tags=["agents"])
    response = client.get("/blog/saving-tokens/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>reuse</strong>" in html
    assert 'data-language="bash"' in html
    assert 'class="callout callout-tip"' in html
    assert '<link rel="stylesheet" href="/static/css/blog.css">' in html
    assert views_of(post) == 1
    client.get("/blog/saving-tokens/")  # served from the cache: still counted
    assert views_of(post) == 2
    client.head("/blog/saving-tokens/")  # a HEAD is not a reader
    assert views_of(post) == 2
    client.force_login(user)
    assert client.get("/blog/saving-tokens/").status_code == 200
    assert views_of(post) == 3
    assert client.post("/blog/saving-tokens/").status_code == 405


@pytest.mark.parametrize(
    ("status", "published_at", "banner"),
    [
        (PublicationStatus.DRAFT, None, "Draft preview"),
        (PublicationStatus.PUBLISHED, timedelta(days=3), "Scheduled preview"),
        (PublicationStatus.ARCHIVED, None, "Archived preview"),
    ],
)
def test_what_is_not_public_is_a_404_and_a_preview_for_staff(
    client, staff_user, user, status, published_at, banner
):
    post = make_post(
        staff_user, status=status, published_at=timezone.now() + published_at if published_at else None
    )
    assert client.get("/blog/saving-tokens/").status_code == 404
    client.force_login(user)
    assert client.get("/blog/saving-tokens/").status_code == 404
    client.force_login(staff_user)
    response = client.get("/blog/saving-tokens/")
    assert response.status_code == 200
    html = response.content.decode()
    assert banner in html and 'class="preview-banner"' in html
    assert Page(html).meta["robots"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert views_of(post) == 0  # previews are not views
    client.logout()
    assert client.get("/blog/saving-tokens/").status_code == 404  # the preview was not cached


def test_an_unknown_slug_is_a_404(client, staff_user):
    assert client.get("/blog/no-such-post/").status_code == 404
    client.force_login(staff_user)
    assert client.get("/blog/no-such-post/").status_code == 404


def test_an_old_slug_answers_301_to_the_new_one(client, staff_user, commit):
    post = make_post(staff_user, "First title")
    client.get("/blog/first-title/")  # cached under the old slug
    with commit():
        services.blog_post_update(actor=staff_user, post=post, fields={"slug": "better-title"})
    response = client.get("/blog/first-title/")
    assert response.status_code == 301 and response["Location"] == "/blog/better-title/"
    assert client.get("/blog/better-title/").status_code == 200
    client.force_login(staff_user)
    assert client.get("/blog/first-title/")["Location"] == "/blog/better-title/"
    client.logout()
    # A redirect does not reveal a post that is no longer public.
    with commit():
        services.blog_post_update(actor=staff_user, post=post, fields={}, status=PublicationStatus.ARCHIVED)
    assert client.get("/blog/first-title/").status_code == 404


def test_the_slug_feed_is_kept_for_the_feed(staff_user):
    assert make_post(staff_user, "Feed").slug == "feed-2"


# --- scheduling and drafts -------------------------------------------------------------------------


def test_a_scheduled_post_is_a_404_until_its_time_then_the_list_shows_it(
    client, staff_user, time_machine, commit
):
    time_machine.move_to("2026-05-31T23:59:00Z", tick=False)
    make_post(staff_user, "Live already", published_at=timezone.now() - timedelta(days=1))
    with commit():
        make_post(staff_user, "June news", published_at=timezone.now() + timedelta(minutes=1))
    assert titles_on(client) == ["Live already"]  # the list is cached now
    assert client.get("/blog/june-news/").status_code == 404
    assert "june-news" not in client.get("/blog/feed/").content.decode()

    time_machine.move_to("2026-06-01T00:00:30Z", tick=False)
    assert client.get("/blog/june-news/").status_code == 200  # a 404 is never cached
    publish_due_task.delay()  # the beat task drops the cached list
    assert titles_on(client) == ["June news", "Live already"]
    assert "june-news" in client.get("/blog/feed/").content.decode()


def test_a_cached_list_expires_by_itself_when_a_scheduled_post_is_due(client, staff_user, time_machine):
    """Even before the beat task runs (or when it is late), the list is right."""
    time_machine.move_to("2026-05-31T23:59:00Z", tick=False)
    make_post(staff_user, "Live already", published_at=timezone.now() - timedelta(days=1))
    make_post(staff_user, "June news", published_at=timezone.now() + timedelta(minutes=1))
    assert titles_on(client) == ["Live already"]
    time_machine.move_to("2026-06-01T00:01:00Z", tick=False)
    assert titles_on(client) == ["June news", "Live already"]


def test_a_draft_revision_of_a_live_post_stays_invisible_until_published(client, staff_user, commit):
    post = make_post(staff_user, "Live title")
    assert "Live title" in client.get("/blog/live-title/").content.decode()  # cached
    with commit():
        services.blog_post_update(
            actor=staff_user, post=post, fields={"title": "Draft title"}, draft=True, change_summary="Retitle"
        )
    assert "Draft title" not in client.get("/blog/live-title/").content.decode()
    assert titles_on(client) == ["Live title"]

    client.force_login(staff_user)
    html = client.get("/blog/live-title/").content.decode()
    assert "Live title" in html and "unpublished changes" in html
    post.refresh_from_db()
    draft = revisions.draft_revision(post)
    preview = client.get(f"/blog/live-title/?revision={draft.pk}")
    assert preview.status_code == 200
    assert "Draft title" in preview.content.decode() and "Draft preview" in preview.content.decode()
    assert client.get("/blog/live-title/?revision=not-a-uuid").status_code == 404
    client.logout()
    # ?revision= means nothing to the public.
    assert "Draft title" not in client.get(f"/blog/live-title/?revision={draft.pk}").content.decode()

    with commit():
        services.revision_publish(actor=staff_user, page=post, revision=draft)
    assert "Draft title" in client.get("/blog/live-title/").content.decode()
    assert titles_on(client) == ["Draft title"]


def test_a_scheduled_draft_revision_goes_live_with_the_beat_task(client, staff_user, time_machine, commit):
    time_machine.move_to("2026-08-01T09:00:00Z", tick=False)
    post = make_post(staff_user, "Version one")
    with commit():
        services.blog_post_update(
            actor=staff_user,
            post=post,
            fields={"title": "Version two"},
            go_live_at=timezone.now() + timedelta(hours=1),
        )
    assert titles_on(client) == ["Version one"]
    client.force_login(staff_user)
    post.refresh_from_db()
    scheduled = revisions.scheduled_revision(post)
    preview = client.get(f"/blog/version-one/?revision={scheduled.pk}").content.decode()
    assert "Scheduled preview" in preview and "2026-08-01 10:00 UTC" in preview
    client.logout()
    time_machine.move_to("2026-08-01T10:00:10Z", tick=False)
    assert titles_on(client) == ["Version one"]
    with commit():
        publish_due_task.delay()
    assert titles_on(client) == ["Version two"]


def test_pages_are_cached_and_dropped_on_update(client, staff_user, commit, django_assert_num_queries):
    post = make_post(staff_user, "Before")
    client.get("/blog/")
    client.get("/blog/before/")
    # Rows changed behind the services' back do not show: the pages come from the cache...
    BlogPost.objects.filter(pk=post.pk).update(title="Sneaky")
    assert titles_on(client) == ["Before"]
    assert "Sneaky" not in client.get("/blog/before/").content.decode()
    # ...and any change through the services drops them.
    with commit():
        services.blog_post_update(actor=staff_user, post=post, fields={"title": "After"})
    assert titles_on(client) == ["After"]
    assert "After" in client.get("/blog/before/").content.decode()
    with commit():
        services.blog_post_delete(actor=staff_user, post=BlogPost.objects.get(pk=post.pk))
    assert titles_on(client) == []
    assert client.get("/blog/before/").status_code == 404


# --- query counts ----------------------------------------------------------------------------------


def _many_posts(staff, count, start=0):
    now = timezone.now()
    for number in range(start, start + count):
        make_post(
            staff, f"Post {number}", published_at=now - timedelta(hours=number + 1), tags=["a", "b", "c"]
        )


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


def test_the_list_renders_in_constant_queries(client, staff_user, user, django_assert_num_queries):
    _many_posts(staff_user, 1)
    make_post(staff_user, "Later", published_at=timezone.now() + timedelta(days=1))
    # Cold: the count, one page of posts with their authors, the next scheduled time.
    with django_assert_num_queries(3):
        assert client.get("/blog/").status_code == 200
    with django_assert_num_queries(0):  # warm: nothing at all
        assert client.get("/blog/").status_code == 200
    with django_assert_num_queries(3):
        assert client.get("/blog/tag/a/").status_code == 200

    member = client.__class__()
    member.force_login(user)
    member.get("/blog/")  # the first request of a session records it (allauth's user sessions)
    overhead = _queries(member, "/blog/")  # warm: only what every signed-in page costs
    cache.invalidate("blog")
    few = _queries(member, "/blog/")
    assert few == overhead + 3

    _many_posts(staff_user, PAGE_SIZE + 5, start=1)
    cache.invalidate("blog")
    with django_assert_num_queries(3):
        assert client.get("/blog/").status_code == 200
    with django_assert_num_queries(3):
        assert client.get("/blog/?page=2").status_code == 200
    with django_assert_num_queries(3):
        assert client.get("/blog/tag/a/").status_code == 200
    cache.invalidate("blog")
    assert _queries(member, "/blog/") == few


def test_a_post_renders_in_constant_queries(client, staff_user, user, django_assert_num_queries):
    make_post(staff_user, "Short", content=BODY[:1])
    body = [{"type": "paragraph", "text": f"Paragraph {n}."} for n in range(40)]
    make_post(staff_user, "Long", content=body, tags=[f"t{n}" for n in range(20)])
    for slug in ("short", "long"):
        with django_assert_num_queries(2):  # cold: the post with its author; the view count
            assert client.get(f"/blog/{slug}/").status_code == 200
        with django_assert_num_queries(1):  # warm: the view count only
            assert client.get(f"/blog/{slug}/").status_code == 200

    member = client.__class__()
    member.force_login(user)
    member.get("/blog/")
    overhead = _queries(member, "/blog/")
    assert _queries(member, "/blog/short/") == _queries(member, "/blog/long/") == overhead + 1


# --- SEO -------------------------------------------------------------------------------------------


def test_seo_tags_default_from_the_post(client, staff_user):
    make_post(staff_user, "Costs, explained", tags=["token-costs"], featured_image="/media/blog/costs.png")
    page = Page(client.get("/blog/costs-explained/").content.decode())
    assert page.title.strip() == "Costs, explained · Agentwise"
    assert page.meta["og:title"] == page.meta["twitter:title"] == "Costs, explained"
    assert (
        page.meta["description"]
        == page.meta["og:description"]
        == "Agents save tokens when they reuse context."
    )
    assert page.meta["og:type"] == "article"
    assert page.meta["og:url"] == page.links["canonical"] == "https://agentwise.example/blog/costs-explained/"
    assert (
        page.meta["og:image"]
        == page.meta["twitter:image"]
        == "https://agentwise.example/media/blog/costs.png"
    )
    assert page.meta["twitter:card"] == "summary_large_image"
    assert ("article:tag", "token-costs") in page.meta_all
    assert "robots" not in page.meta
    assert page.links["alternate"] == "https://agentwise.example/blog/feed/"


def test_seo_meta_overrides_and_noindex(client, staff_user):
    make_post(
        staff_user,
        "Plain title",
        seo_meta={
            "title": "A better title for search",
            "description": "What searchers read.",
            "image": "https://cdn.example.com/card.png",
            "canonical": "https://elsewhere.example/original/",
            "noindex": True,
        },
    )
    page = Page(client.get("/blog/plain-title/").content.decode())
    assert page.title.strip() == "A better title for search · Agentwise"
    assert page.meta["og:title"] == "A better title for search"
    assert page.meta["description"] == "What searchers read."
    assert page.meta["og:image"] == "https://cdn.example.com/card.png"
    assert page.links["canonical"] == "https://elsewhere.example/original/"
    assert page.meta["robots"] == "noindex, nofollow"


def test_seo_tags_do_not_follow_the_host_header(client, staff_user):
    make_post(staff_user)
    page = Page(client.get("/blog/saving-tokens/", HTTP_HOST="localhost").content.decode())
    assert page.links["canonical"] == "https://agentwise.example/blog/saving-tokens/"


def test_a_hostile_title_and_description_come_out_escaped(client, staff_user):
    title = 'Costs"><script>alert(1)</script>'
    description = "Read this'\"><img src=x onerror=alert(2)>"
    make_post(staff_user, title, slug="hostile", excerpt=description, seo_meta={"description": description})
    for url in ("/blog/hostile/", "/blog/"):
        html = client.get(url).content.decode()
        page = Page(html)
        assert page.scripts == 0, url
        assert "<script>alert(1)" not in html and "<img src=x" not in html
    page = Page(client.get("/blog/hostile/").content.decode())
    # Escaped as attribute values and text, so a browser reads back exactly what was written.
    assert page.meta["og:title"] == page.meta["twitter:title"] == title
    assert page.meta["description"] == description
    assert page.title.strip() == f"{title} · Agentwise"


def test_an_embed_block_renders_a_sandboxed_player(client, staff_user):
    make_post(
        staff_user,
        "Watch",
        content=[{"type": "embed", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "caption": "Demo"}],
    )
    page = Page(client.get("/blog/watch/").content.decode())
    assert page.iframes == ["https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"]


def test_a_post_links_its_author(client):
    author = UserFactory(is_staff=True, username="writer")
    make_post(author, "Signed")
    html = client.get("/blog/signed/").content.decode()
    assert 'href="/u/writer/"' in html


# --- demo posts ------------------------------------------------------------------------------------


def test_the_demo_posts_are_seeded_once_and_render(client, staff_user):
    from content.demo_blog import POSTS, seed_blog

    assert len(seed_blog(staff_user)) == len(POSTS)
    assert seed_blog(staff_user) == []
    assert BlogPost.objects.count() == len(POSTS)
    assert len(titles_on(client)) == len(POSTS)
    for spec in POSTS:
        post = BlogPost.objects.get(slug=spec["slug"])
        assert len(post.content) == len(spec["content"])  # every block was valid
        assert client.get(f"/blog/{spec['slug']}/").status_code == 200
