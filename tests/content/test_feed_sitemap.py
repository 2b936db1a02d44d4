"""The Atom feed and the sitemap: well-formed XML (read with a real parser), the right URLs in, the rest out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from content import services
from content.models import PublicationStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SITE = "https://agentwise.example"
BODY = [{"type": "paragraph", "text": "Agents save tokens when they reuse context."}]


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


def make_post(staff, title, *, status=PublicationStatus.PUBLISHED, published_at=None, **fields):
    return services.blog_post_create(
        actor=staff,
        fields={"title": title, "content": BODY, **fields},
        status=status,
        published_at=published_at,
    )


def make_page(staff, title, **fields):
    return services.documentation_create(
        actor=staff, fields={"title": title, "content": BODY, "version": "1.0", **fields}
    )


def parse(response) -> ET.Element:
    assert response.status_code == 200
    return ET.fromstring(response.content)  # raises on anything that is not well-formed XML


# --- feed ------------------------------------------------------------------------------------------


def test_the_feed_is_atom_with_only_public_posts(client, staff_user):
    now = timezone.now()
    make_post(staff_user, "Older", published_at=now - timedelta(days=2), tags=["agents"])
    newer = make_post(staff_user, "Newer", published_at=now - timedelta(days=1))
    make_post(staff_user, "A draft", status=PublicationStatus.DRAFT)
    make_post(staff_user, "Scheduled", published_at=now + timedelta(hours=1))
    make_post(staff_user, "Archived", status=PublicationStatus.ARCHIVED)
    response = client.get("/blog/feed/")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = parse(response)
    assert feed.tag == f"{ATOM}feed"
    assert feed.find(f"{ATOM}title").text == "Agentwise blog"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == f"{SITE}/blog/feed/"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Newer", "Older"]
    first = entries[0]
    assert first.find(f"{ATOM}link").get("href") == f"{SITE}/blog/newer/"
    assert first.find(f"{ATOM}id").text == f"urn:uuid:{newer.pk}"
    assert first.find(f"{ATOM}author/{ATOM}name").text == staff_user.username
    assert first.find(f"{ATOM}summary").text == "Agents save tokens when they reuse context."
    content = first.find(f"{ATOM}content")
    assert (
        content.get("type") == "html"
        and content.text.strip() == "<p>Agents save tokens when they reuse context.</p>"
    )
    assert [c.get("term") for c in entries[1].findall(f"{ATOM}category")] == ["agents"]


def test_the_feed_stays_well_formed_whatever_a_title_holds(client, staff_user):
    make_post(
        staff_user,
        "Tabs\tand <tags> & \x0bcontrol\x1f characters ]]>",
        excerpt="An excerpt with \x08 a backspace & <b>markup</b>",
        content=[{"type": "code", "language": "html", "text": "<script>alert('x')</script>\x0c"}],
    )
    entry = parse(client.get("/blog/feed/")).find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "Tabs\tand <tags> & control characters ]]>"
    summary = entry.find(f"{ATOM}summary")  # HTML, escaped: a reader shows the excerpt as written
    assert summary.get("type") == "html"
    assert summary.text == "An excerpt with  a backspace &amp; &lt;b&gt;markup&lt;/b&gt;"
    assert "&lt;script&gt;" in entry.find(f"{ATOM}content").text  # escaped code, as on the page


def test_the_feed_is_cached_and_dropped_on_publish(client, staff_user, django_capture_on_commit_callbacks):
    make_post(staff_user, "First")
    assert len(parse(client.get("/blog/feed/")).findall(f"{ATOM}entry")) == 1
    with django_capture_on_commit_callbacks(execute=True):
        make_post(staff_user, "Second")
    assert len(parse(client.get("/blog/feed/")).findall(f"{ATOM}entry")) == 2


def test_an_empty_feed_is_still_a_feed(client):
    feed = parse(client.get("/blog/feed/"))
    assert feed.findall(f"{ATOM}entry") == [] and feed.find(f"{ATOM}updated") is not None


# --- sitemap ---------------------------------------------------------------------------------------


def sitemap_urls(client, path) -> list[str]:
    response = client.get(path)
    assert response["Content-Type"].startswith("application/xml")
    root = parse(response)
    assert root.tag == f"{SITEMAP}urlset"
    return [url.find(f"{SITEMAP}loc").text for url in root.findall(f"{SITEMAP}url")]


def test_the_sitemap_is_an_index_of_its_sections(client):
    response = client.get("/sitemap.xml")
    root = parse(response)
    assert root.tag == f"{SITEMAP}sitemapindex"
    assert [s.find(f"{SITEMAP}loc").text for s in root.findall(f"{SITEMAP}sitemap")] == [
        f"{SITE}/sitemap-blog.xml",
        f"{SITE}/sitemap-docs.xml",
        f"{SITE}/sitemap-forum.xml",
        f"{SITE}/sitemap-profiles.xml",
    ]
    assert "noindex" in response["X-Robots-Tag"]


def test_the_blog_sitemap_lists_public_indexable_posts(client, staff_user):
    now = timezone.now()
    make_post(staff_user, "Public one", published_at=now - timedelta(days=1))
    make_post(staff_user, "A draft", status=PublicationStatus.DRAFT)
    make_post(staff_user, "Scheduled", published_at=now + timedelta(days=1))
    make_post(staff_user, "Archived", status=PublicationStatus.ARCHIVED)
    make_post(staff_user, "Hidden", seo_meta={"noindex": True})
    make_post(staff_user, "Syndicated", seo_meta={"canonical": "https://elsewhere.example/original/"})
    make_post(staff_user, "Self canonical", seo_meta={"canonical": "/blog/self-canonical/"})
    make_post(staff_user, "Lookalike", seo_meta={"canonical": "https://elsewhere.example/blog/lookalike/"})
    assert sorted(sitemap_urls(client, "/sitemap-blog.xml")) == [
        f"{SITE}/blog/",
        f"{SITE}/blog/public-one/",
        f"{SITE}/blog/self-canonical/",
    ]


def test_the_docs_sitemap_lists_published_pages_under_published_parents(client, staff_user):
    guide = make_page(staff_user, "Guide", slug="guide")
    make_page(staff_user, "Install", slug="install", parent=guide)
    hidden = make_page(staff_user, "Internal", slug="internal", is_published=False)
    make_page(staff_user, "Under hidden", slug="under-hidden", parent=hidden)
    make_page(staff_user, "Draft page", slug="draft-page", parent=guide, is_published=False)
    services.documentation_create(
        actor=staff_user, fields={"title": "Guide", "slug": "guide", "version": "2.0"}
    )
    assert sorted(sitemap_urls(client, "/sitemap-docs.xml")) == [
        f"{SITE}/docs/1.0/guide/",
        f"{SITE}/docs/1.0/guide/install/",
        f"{SITE}/docs/2.0/guide/",
    ]


def test_the_profiles_sitemap_lists_active_users(client, user):
    UserFactory(username="gone", is_active=False)
    UserFactory(username="has space")  # written behind the form's back: no URL can hold it
    urls = sitemap_urls(client, "/sitemap-profiles.xml")
    assert f"{SITE}/u/{user.username}/" in urls
    assert f"{SITE}/u/gone/" not in urls


def test_the_forum_sitemap_lists_topics_of_public_forums_only(client, user):
    from community.models import Channel, ChannelMember
    from community.services import forum_post_create

    public = Channel.objects.create(name="help", type="forum")
    private = Channel.objects.create(name="staff", type="forum", is_private=True)
    ChannelMember.objects.create(channel=private, user=user)
    shown = forum_post_create(actor=user, channel=public, title="How to deploy", content="?")
    hidden = forum_post_create(actor=user, channel=private, title="Secret", content="?")
    urls = sitemap_urls(client, "/sitemap-forum.xml")
    assert urls == [f"{SITE}{shown.get_absolute_url()}"]
    assert str(hidden.pk) not in client.get("/sitemap-forum.xml").content.decode()


def test_sitemap_urls_do_not_follow_the_host_header(client, staff_user):
    make_post(staff_user, "Public one")
    assert (
        sitemap_urls(client.__class__(HTTP_HOST="localhost"), "/sitemap-blog.xml")[1]
        == f"{SITE}/blog/public-one/"
    )
    index = parse(client.get("/sitemap.xml", HTTP_HOST="localhost"))
    assert index.find(f"{SITEMAP}sitemap/{SITEMAP}loc").text.startswith(SITE)


def test_bad_sitemap_requests_are_404s(client):
    assert client.get("/sitemap-nothing.xml").status_code == 404
    for page in ("2", "0", "x", ""):
        assert client.get(f"/sitemap-blog.xml?p={page}").status_code == 404, page


def test_the_blog_sitemap_is_cached_and_dropped_on_publish(
    client, staff_user, django_capture_on_commit_callbacks
):
    make_post(staff_user, "First")
    assert len(sitemap_urls(client, "/sitemap-blog.xml")) == 2
    with django_capture_on_commit_callbacks(execute=True):
        make_post(staff_user, "Second")
    assert len(sitemap_urls(client, "/sitemap-blog.xml")) == 3


def test_a_large_section_is_split_into_pages(client, staff_user, monkeypatch):
    from content.sitemaps import ProfileSitemap

    monkeypatch.setattr(ProfileSitemap, "limit", 2)
    UserFactory.create_batch(3)
    locations = [
        s.find(f"{SITEMAP}loc").text for s in parse(client.get("/sitemap.xml")).findall(f"{SITEMAP}sitemap")
    ]
    assert f"{SITE}/sitemap-profiles.xml?p=2" in locations
    assert len(sitemap_urls(client, "/sitemap-profiles.xml?p=2")) == 2  # staff_user + 3 users = 4
