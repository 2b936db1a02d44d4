"""The forum's pages (/forum/): who sees what, canonical URLs and tags, lists at a constant query count,
the forms (new topic, reply, solution), the locked topic's refusal, and untrusted text kept inert."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from community import services
from community.models import Channel, ChannelMember, ForumPost, ForumReply
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def forums(db):
    return {
        "public": Channel.objects.create(name="help", type="forum", description="Ask anything."),
        "private": Channel.objects.create(name="staff-forum", type="forum", is_private=True),
        "locked": Channel.objects.create(name="news", type="forum", is_locked=True),
        "chat": Channel.objects.create(name="general"),
    }


@pytest.fixture
def people(db, forums):
    member = UserFactory(username="member")
    ChannelMember.objects.create(channel=forums["private"], user=member)
    return {
        "author": UserFactory(username="author"),
        "other": UserFactory(username="other"),
        "member": member,
        "staff": StaffFactory(username="mod"),
    }


@pytest.fixture(autouse=True)
def no_post_limit(settings):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def topic(author, channel, title="How do I deploy?", content="Steps **please**", tags=()):
    return services.forum_post_create(
        actor=author, channel=channel, title=title, content=content, tags=list(tags)
    )


def reply_to(author, post, content="Use daphne."):
    return services.forum_reply_create(actor=author, post=post, content=content)


class _Head(HTMLParser):
    """``<link rel=canonical>`` and the ``<meta property=og:*>`` values, as a browser or crawler reads them."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.canonical, self.og, self.robots = None, {}, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical = a["href"]
        if tag == "meta" and (a.get("property") or "").startswith("og:"):
            self.og[a["property"]] = a.get("content")
        if tag == "meta" and a.get("name") == "robots":
            self.robots = a.get("content")


class _Elements(HTMLParser):
    """Every element (with its attributes) a browser would build."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


# --- who may read ------------------------------------------------------------------------------------


def test_anonymous_visitors_and_crawlers_read_the_public_forums_and_nothing_private(people, forums):
    public = topic(people["author"], forums["public"], title="Public question", tags=["deploy"])
    reply_to(people["other"], public, content="An **answer**")
    topic(people["member"], forums["private"], title="Secret plans", tags=["secret"])
    anonymous = browser()

    index = anonymous.get("/forum/")
    assert index.status_code == 200
    assert [t.title for t in index.context["page"].object_list] == ["Public question"]
    assert "staff-forum" not in index.content.decode()
    tags = anonymous.get("/forum/tags/")
    assert [t["tag"] for t in tags.context["tags"]] == ["deploy"]
    assert anonymous.get(f"/forum/{forums['public'].pk}/").status_code == 200

    page = anonymous.get(public.get_absolute_url())
    body = page.content.decode()
    assert page.status_code == 200
    assert "<strong>answer</strong>" in body
    head = _Head(body)
    assert head.canonical.endswith(public.get_absolute_url()) and head.og["og:title"] == "Public question"
    assert head.robots is None  # indexable
    assert "Sign in to reply" in body
    assert 'action="/forum/t/' not in body  # no reply form, no solution buttons
    assert "forum_live.js" not in body  # no socket for a visitor who cannot open one
    assert public.__class__.objects.get(pk=public.pk).view_count == 0  # anonymous views are not counted


def test_anonymous_visitor_asked_for_a_private_or_unknown_forum_page_is_sent_to_sign_in(people, forums):
    secret = topic(people["member"], forums["private"], title="Secret plans")
    anonymous = browser()
    for path in (
        secret.get_absolute_url(),
        f"/forum/{forums['private'].pk}/",
        "/forum/t/00000000-0000-0000-0000-000000000000-nothing/",  # unknown alike: nothing leaks
    ):
        response = anonymous.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/account/login/?next="), path
    assert anonymous.get(f"/forum/{forums['chat'].pk}/").status_code == 302  # a chat channel is no forum


@pytest.mark.parametrize("path", ["/forum/{public}/new/"])
def test_anonymous_visitor_cannot_open_a_topic_reply_or_choose_a_solution(people, forums, path):
    post = topic(people["author"], forums["public"])
    reply = reply_to(people["other"], post)
    anonymous = browser()
    new = anonymous.get(path.format(public=forums["public"].pk))
    assert new.status_code == 302 and "/account/login/" in new["Location"]
    for url, data in ((f"/forum/t/{post.pk}/reply/", {"content": "hi"}), (f"/forum/r/{reply.pk}/solution/", {})):
        response = anonymous.post(url, data)
        assert response.status_code == 302 and "/account/login/" in response["Location"]
    assert ForumReply.objects.filter(post=post).count() == 1
    assert not ForumReply.objects.get(pk=reply.pk).is_solution


@pytest.mark.parametrize("name, sees_private", [("other", False), ("member", True), ("staff", True)])
def test_the_index_lists_the_forums_and_topics_the_viewer_can_see(people, forums, name, sees_private):
    topic(people["author"], forums["public"], title="Public question")
    topic(people["staff"], forums["private"], title="Secret plans")
    html = browser(people[name]).get("/forum/").content.decode()
    assert "Public question" in html and "help" in html
    assert ("Secret plans" in html) is sees_private
    assert ("staff-forum" in html) is sees_private
    assert (
        "general" not in html.split('class="forum-nav"')[1].split("</nav>")[0]
    )  # a chat channel is not a forum


@pytest.mark.parametrize("name, status", [("other", 404), ("member", 200), ("staff", 200)])
def test_a_private_forums_pages_are_404_to_non_members_as_in_the_api(people, forums, name, status):
    post = topic(people["staff"], forums["private"], title="Secret plans")
    client = browser(people[name])
    assert client.get(f"/forum/{forums['private'].pk}/").status_code == status
    assert client.get(post.get_absolute_url()).status_code == status
    assert client.get(f"/forum/{forums['private'].pk}/new/").status_code == status
    assert client.post(f"/forum/t/{post.pk}/reply/", {"content": "hi"}).status_code in (
        {404} if status == 404 else {302}
    )
    assert Client().get(f"/api/forum/posts/{post.pk}/").status_code == 401
    api = Client()
    api.force_login(people[name])
    assert api.get(f"/api/forum/posts/{post.pk}/").status_code == status


def test_a_chat_channel_has_no_forum_page(people, forums):
    assert browser(people["other"]).get(f"/forum/{forums['chat'].pk}/").status_code == 404


def test_a_channel_page_lists_only_its_topics_with_a_new_topic_button_for_who_may_post(people, forums):
    topic(people["author"], forums["public"], title="In help")
    topic(people["staff"], forums["locked"], title="In news")
    html = browser(people["other"]).get(f"/forum/{forums['public'].pk}/").content.decode()
    assert "In help" in html and "In news" not in html
    assert f'href="/forum/{forums["public"].pk}/new/"' in html
    locked = browser(people["other"]).get(f"/forum/{forums['locked'].pk}/").content.decode()
    assert "In news" in locked and "/new/" not in locked
    assert browser(people["other"]).get(f"/forum/{forums['locked'].pk}/new/").status_code == 403
    assert browser(people["staff"]).get(f"/forum/{forums['locked'].pk}/new/").status_code == 200


# --- lists ---------------------------------------------------------------------------------------------


def test_rows_show_title_author_tags_counts_solved_and_pinned_first(people, forums):
    old = topic(people["author"], forums["public"], title="Pinned rules", tags=["meta"])
    ForumPost.objects.filter(pk=old.pk).update(is_pinned=True)
    solved = topic(people["author"], forums["public"], title="Solved one", tags=["deploy"])
    answer = reply_to(people["other"], solved)
    services.forum_solution_mark(actor=people["author"], reply=answer)
    topic(people["other"], forums["public"], title="Newest one")
    html = browser(people["other"]).get("/forum/?order=newest").content.decode()
    assert html.index("Pinned rules") < html.index("Newest one") < html.index("Solved one")
    row = html[html.index("Solved one") :].split("</li>\n")[0]
    assert "✓ Solved" in row and "@author" in row and 'href="/forum/?tag=deploy"' in row
    assert "<dt>Replies</dt><dd>1</dd>" in row


@pytest.mark.parametrize(
    "order, expected",
    [
        ("unanswered", ["Quiet"]),
        ("solved", ["Answered"]),
    ],
)
def test_list_orders_filter_as_the_api_does(people, forums, order, expected):
    quiet = topic(people["author"], forums["public"], title="Quiet")
    answered = topic(people["author"], forums["public"], title="Answered")
    services.forum_solution_mark(actor=people["author"], reply=reply_to(people["other"], answered))
    html = browser(people["other"]).get(f"/forum/?order={order}").content.decode()
    shown = [t for t in ("Quiet", "Answered") if f">{t}</a>" in html]
    assert shown == expected
    assert quiet


def test_tag_filter_and_tags_page(people, forums):
    topic(people["author"], forums["public"], title="About django", tags=["Django"])
    topic(people["author"], forums["public"], title="About celery", tags=["celery", "django"])
    topic(people["staff"], forums["private"], title="Hidden", tags=["secret-tag", "django"])
    client = browser(people["other"])
    html = client.get("/forum/?tag=DJANGO").content.decode()
    assert "About django" in html and "About celery" in html and "Hidden" not in html
    assert "About celery" not in client.get("/forum/?tag=nothing").content.decode()
    tags = client.get("/forum/tags/").content.decode()
    assert (
        'href="/forum/?tag=django">django</a> <span class="muted">× 2</span>' in tags
    )  # the private one not counted
    assert "secret-tag" not in tags
    assert "× 3" in browser(people["member"]).get("/forum/tags/").content.decode()


@pytest.mark.parametrize("query", ["?order=loudest", "?tag=<script>", "?tag=" + "a" * 40])
def test_bad_list_parameters_are_a_400_naming_the_field(people, forums, query):
    response = browser(people["other"]).get("/forum/" + query)
    assert response.status_code == 400
    assert "<script>" not in response.content.decode()


@pytest.mark.parametrize("query", ["?page=0", "?page=abc", "?page=9"])
def test_a_bad_or_missing_page_is_a_404(people, forums, query):
    topic(people["author"], forums["public"])
    assert browser(people["other"]).get("/forum/" + query).status_code == 404


def test_the_list_costs_the_same_queries_with_more_topics(people, forums, django_assert_max_num_queries):
    client = browser(people["member"])
    for i in range(3):
        topic(people["author"], forums["public"], title=f"Topic {i}", tags=["x"])
    topic(people["staff"], forums["private"], title="Private one")
    client.get("/forum/")  # session and user rows warm, like any later page
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get("/forum/").status_code == 200
    for i in range(20):
        post = topic(
            people["author"] if i % 2 else people["other"],
            forums["public"],
            title=f"More {i}",
            tags=["y", "z"],
        )
        reply_to(people["member"], post)
    ChannelMember.objects.create(
        channel=Channel.objects.create(name="another", type="forum", is_private=True), user=people["member"]
    )
    with django_assert_max_num_queries(len(few)):
        html = client.get("/forum/").content.decode()
    assert "More 19" in html


# --- a topic -------------------------------------------------------------------------------------------


def test_topic_page_redirects_a_wrong_or_missing_slug_permanently(people, forums):
    post = topic(people["author"], forums["public"], title="How do I deploy?")
    assert post.get_absolute_url() == f"/forum/t/{post.pk}-how-do-i-deploy/"
    client = browser(people["other"])
    for path in (f"/forum/t/{post.pk}-old-title/", f"/forum/t/{post.pk}/"):
        response = client.get(path + "?page=1")
        assert response.status_code == 301
        assert response["Location"] == post.get_absolute_url() + "?page=1"
    assert client.get(post.get_absolute_url()).status_code == 200
    assert client.get("/forum/t/00000000-0000-0000-0000-000000000000-x/").status_code == 404


def test_topic_page_has_canonical_and_opengraph_tags(people, forums, settings):
    settings.SITE_URL = "https://agentwise.example"
    post = topic(
        people["author"],
        forums["public"],
        title="Deploy with daphne",
        content="Use **daphne** behind nginx.",
        tags=["deploy"],
    )
    head = _Head(browser(people["other"]).get(post.get_absolute_url()).content.decode())
    url = f"https://agentwise.example/forum/t/{post.pk}-deploy-with-daphne/"
    assert head.canonical == url
    assert head.og["og:url"] == url and head.og["og:title"] == "Deploy with daphne"
    assert head.og["og:description"] == "Use daphne behind nginx." and head.og["og:type"] == "article"
    assert head.robots is None
    index = _Head(browser(people["other"]).get("/forum/?tag=deploy&order=top").content.decode())
    assert index.canonical == "https://agentwise.example/forum/?tag=deploy" and index.og["og:title"]
    private = topic(people["staff"], forums["private"], title="Private")
    assert (
        _Head(browser(people["member"]).get(private.get_absolute_url()).content.decode()).robots
        == "noindex, nofollow"
    )


def test_topic_page_shows_replies_edited_marker_reactions_solution_link_and_counts_the_view(people, forums):
    post = topic(people["author"], forums["public"], content="First **version**")
    services.forum_post_update(actor=people["author"], post=post, data={"content": "Second **version**"})
    first = reply_to(people["other"], post, "Try *this*")
    answer = reply_to(people["member"], post, "The answer")
    services.forum_solution_mark(actor=people["author"], reply=answer)
    services.forum_reaction_toggle(actor=people["other"], target=post, emoji="👍")
    services.forum_reaction_toggle(actor=people["member"], target=post, emoji="👍")
    services.forum_reply_delete(actor=people["other"], reply=first)
    html = browser(people["other"]).get(post.get_absolute_url()).content.decode()
    assert "Second <strong>version</strong>" in html and ">edited</span>" in html
    assert f'href="#reply-{answer.pk}"' in html and "✓ Solved" in html
    assert f'id="reply-{answer.pk}"' in html and "✓ Solution" in html
    assert "👍 2" in html
    assert "This reply was deleted." in html and "Try <em>this</em>" not in html
    assert ForumPost.objects.get(pk=post.pk).view_count == 1
    browser(people["other"]).get(post.get_absolute_url())
    assert ForumPost.objects.get(pk=post.pk).view_count == 1  # once an hour per viewer, as the API counts


def test_replies_are_paginated_and_the_solution_link_finds_its_page(people, forums, monkeypatch):
    from community import forum_views

    monkeypatch.setattr(forum_views, "REPLIES_PER_PAGE", 2)
    post = topic(people["author"], forums["public"])
    replies = [reply_to(people["other"], post, f"Reply number {i}") for i in range(5)]
    services.forum_solution_mark(actor=people["author"], reply=replies[4])
    client = browser(people["other"])
    page1 = client.get(post.get_absolute_url()).content.decode()
    assert "Reply number 1" in page1 and "Reply number 2" not in page1
    assert f'href="{post.get_absolute_url()}?page=3#reply-{replies[4].pk}"' in page1
    page3 = client.get(post.get_absolute_url() + "?page=3").content.decode()
    assert "Reply number 4" in page3 and f'href="#reply-{replies[4].pk}"' in page3


def test_the_topic_page_costs_the_same_queries_with_more_replies(
    people, forums, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    post = topic(people["author"], forums["public"], content="Hi @other")
    reply_to(people["other"], post, "Thanks @author")
    client = browser(people["staff"])
    client.get(post.get_absolute_url())
    with CaptureQueriesContext(connection) as few:
        client.get(post.get_absolute_url())
    for i in range(12):
        reply = reply_to(
            people["member"] if i % 2 else people["other"], post, f"Reply {i} to @author and @member"
        )
        services.forum_reaction_toggle(actor=people["author"], target=reply, emoji="🎉")
    with django_assert_max_num_queries(len(few)):
        html = client.get(post.get_absolute_url()).content.decode()
    assert "Reply 11" in html


# --- forms -----------------------------------------------------------------------------------------------


def test_member_opens_a_topic_through_the_form(people, forums):
    client = browser(people["other"])
    form = client.get(f"/forum/{forums['public'].pk}/new/").content.decode()
    assert (
        'name="title"' in form
        and 'name="content"' in form
        and 'data-preview-url="/api/forum/preview/"' in form
    )
    response = client.post(
        f"/forum/{forums['public'].pk}/new/",
        {"title": "A fresh question", "content": "How do I **start**?", "tags": "Django, getting-started"},
    )
    post = ForumPost.objects.get(title="A fresh question")
    assert response.status_code == 302 and response["Location"] == post.get_absolute_url()
    assert post.author == people["other"] and post.tags == ["django", "getting-started"]


def test_topic_form_shows_the_services_field_errors(people, forums):
    client = browser(people["other"])
    response = client.post(
        f"/forum/{forums['public'].pk}/new/", {"title": "Bad tags", "content": "x", "tags": "no_underscores"}
    )
    assert response.status_code == 400
    assert "Tags are letters, digits and single hyphens" in response.content.decode()
    response = client.post(f"/forum/{forums['public'].pk}/new/", {"title": "   ", "content": "x"})
    assert response.status_code == 400 and "field-invalid" in response.content.decode()
    assert not ForumPost.objects.exists()


def test_member_replies_through_the_form_and_lands_on_the_reply(people, forums):
    post = topic(people["author"], forums["public"])
    client = browser(people["other"])
    page = client.get(post.get_absolute_url()).content.decode()
    assert f'action="/forum/t/{post.pk}/reply/"' in page
    response = client.post(f"/forum/t/{post.pk}/reply/", {"content": "Use **daphne**."})
    reply = ForumReply.objects.get(post=post)
    assert (
        response.status_code == 302 and response["Location"] == f"{post.get_absolute_url()}#reply-{reply.pk}"
    )
    assert reply.author == people["other"] and ForumPost.objects.get(pk=post.pk).reply_count == 1
    empty = client.post(f"/forum/t/{post.pk}/reply/", {"content": "   "})
    assert empty.status_code == 400 and "field-invalid" in empty.content.decode()


def test_a_locked_topic_shows_the_notice_and_refuses_a_reply_clearly(people, forums):
    post = topic(people["author"], forums["public"])
    services.forum_post_update(actor=people["staff"], post=post, data={"is_locked": True})
    for name in ("other", "staff"):
        client = browser(people[name])
        page = client.get(post.get_absolute_url()).content.decode()
        assert "This topic is locked: it takes no new replies." in page
        assert "/reply/" not in page
        response = client.post(f"/forum/t/{post.pk}/reply/", {"content": "Let me in"})
        assert response.status_code == 403
        assert "This topic is locked: it takes no new replies." in response.content.decode()
    assert not ForumReply.objects.exists()


@pytest.mark.parametrize(
    "name, allowed", [("author", True), ("staff", True), ("other", False), ("member", False)]
)
def test_solution_button_and_form_for_the_topic_author_and_staff_only(people, forums, name, allowed):
    post = topic(people["author"], forums["public"])
    reply = reply_to(people["member"], post)
    client = browser(people[name])
    page = client.get(post.get_absolute_url()).content.decode()
    assert ("Mark as solution" in page) is allowed
    response = client.post(f"/forum/r/{reply.pk}/solution/", {"action": "mark"})
    assert response.status_code == (302 if allowed else 403)
    assert ForumReply.objects.get(pk=reply.pk).is_solution is allowed
    if allowed:
        assert response["Location"] == f"{post.get_absolute_url()}#reply-{reply.pk}"
        assert "Unmark as solution" in client.get(post.get_absolute_url()).content.decode()
        client.post(f"/forum/r/{reply.pk}/solution/", {"action": "unmark"})
        assert not ForumReply.objects.get(pk=reply.pk).is_solution


def test_solution_of_a_private_topic_is_404_to_non_members(people, forums):
    post = topic(people["staff"], forums["private"])
    reply = reply_to(people["member"], post)
    assert browser(people["other"]).post(f"/forum/r/{reply.pk}/solution/").status_code == 404


# --- untrusted text ----------------------------------------------------------------------------------------


def test_xss_in_title_content_and_tags_is_escaped(people, forums):
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    post = topic(
        people["author"],
        forums["public"],
        title=evil,
        content=evil + "\n\n[x](javascript:alert(1))",
        tags=["ok"],
    )
    reply_to(people["other"], post, evil)
    client = browser(people["other"])
    for path in (post.get_absolute_url(), "/forum/", f"/forum/{forums['public'].pk}/"):
        html = client.get(path).content.decode()
        elements = _Elements(html).elements
        assert not any(tag == "script" and "src" not in attrs for tag, attrs in elements)
        assert not any(tag == "img" and "onerror" in attrs for tag, attrs in elements)
        assert not any(
            tag == "a" and (attrs.get("href") or "").startswith("javascript:") for tag, attrs in elements
        )
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # A hostile tag cannot get in through the form: the service refuses it.
    response = client.post(
        f"/forum/{forums['public'].pk}/new/", {"title": "t", "content": "c", "tags": "<b>x</b>"}
    )
    assert response.status_code == 400 and "<b>x</b>" not in response.content.decode()


def test_fenced_code_with_a_language_is_highlighted_and_stays_inert(people, forums):
    content = "```python\nprint('<script>alert(1)</script>')  # hi\n```\n\n```\nplain <b>code</b>\n```"
    post = topic(people["author"], forums["public"], content=content)
    html = browser(people["other"]).get(post.get_absolute_url()).content.decode()
    assert '<pre class="highlight"><code class="language-python"><span class="nb">print</span>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "<pre><code>plain &lt;b&gt;code&lt;/b&gt;" in html
    assert '<link rel="stylesheet" href="/static/css/highlight.css">' in html


def test_mentions_link_existing_active_users_only_and_not_inside_code(people, forums):
    UserFactory(username="gone", is_active=False)
    post = topic(
        people["author"],
        forums["public"],
        content="Thanks @Other and @gone and @nobody; `@member` and mail a@member.example",
    )
    html = browser(people["member"]).get(post.get_absolute_url()).content.decode()
    body = html.split('<div class="forum-body">')[1].split("</div>")[0]
    assert '<a class="mention" href="/u/other/">@Other</a>' in body
    assert "@gone" in body and "/u/gone/" not in body
    assert "@nobody" in body and "/u/nobody/" not in body
    assert "<code>@member</code>" in body and "/u/member/" not in body


# --- preview endpoint ----------------------------------------------------------------------------------------


def test_preview_renders_like_a_saved_post(people):
    client = browser(people["other"])
    response = client.post(
        "/api/forum/preview/",
        {"content": "**hi** @author <script>x</script>\n\n```python\nx = 1\n```"},
        content_type="application/json",
    )
    assert response.status_code == 200
    html = response.json()["html"]
    assert "<strong>hi</strong>" in html and '<a class="mention" href="/u/author/">@author</a>' in html
    assert "<script>" not in html and '<span class="n">x</span>' in html


def test_preview_needs_a_signed_in_user_and_csrf(people):
    assert Client().post(
        "/api/forum/preview/", {"content": "hi"}, content_type="application/json"
    ).status_code in (401, 403)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["other"])
    assert (
        strict.post("/api/forum/preview/", {"content": "hi"}, content_type="application/json").status_code
        == 403
    )


def test_preview_refuses_too_long_text_with_a_field_error(people):
    response = browser(people["other"]).post(
        "/api/forum/preview/", {"content": "x" * 20_001}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "content" in response.json()["error"]["fields"]


def test_preview_is_rate_limited(people, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "community.preview": "2/minute"}
    client = browser(people["other"])
    codes = [
        client.post("/api/forum/preview/", {"content": "hi"}, content_type="application/json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


# --- the chat shell, the navigation, the API it uses ---------------------------------------------------------


def test_the_community_shell_knows_where_forum_topics_and_pages_are(people):
    html = browser(people["other"]).get("/community/").content.decode()
    config = json.loads(
        re.search(r'<script id="community-config" type="application/json">(.*?)</script>', html).group(1)
    )
    assert config["forum_api"] == "/api/forum/posts/" and config["forum"] == "/forum/"
    assert '<a href="/forum/"' in html  # the site navigation's Forum link


def test_the_api_the_chat_shell_uses_lists_a_forum_channels_topics(people, forums):
    """For a forum channel, community.js lists ``GET /api/forum/posts/?channel=<id>`` and links each to /forum/t/<id>/."""
    mine = topic(people["author"], forums["public"], title="Listed in the shell")
    topic(people["staff"], forums["locked"], title="Elsewhere")
    client = browser(people["other"])
    body = client.get(f"/api/forum/posts/?channel={forums['public'].pk}&page_size=50").json()
    assert [p["title"] for p in body["results"]] == ["Listed in the shell"]
    assert client.get(f"/forum/t/{mine.pk}/")["Location"] == mine.get_absolute_url()
    assert '"forum"' in client.get("/api/community/channels/").content.decode()  # channels carry their type


def test_mention_linking_cannot_inject_markup():
    from community.markup import link_mentions

    UserFactory(username="alice")
    handles = {"alice": "alice"}
    # Text nodes come back re-escaped; a name inside an attribute, a link or code is never touched.
    markup = '<p>&lt;img src=x onerror=alert(1)&gt;@alice</p><p><a href="https://e.example/@alice" title="@alice">@alice</a></p><pre><code>@alice</code></pre>'
    out = link_mentions(markup, handles)
    assert out == (
        '<p>&lt;img src=x onerror=alert(1)&gt;<a class="mention" href="/u/alice/">@alice</a></p>'
        '<p><a href="https://e.example/@alice" title="@alice">@alice</a></p><pre><code>@alice</code></pre>'
    )


def test_reply_and_mention_notifications_link_to_the_topic_page(
    people, forums, django_capture_on_commit_callbacks
):
    from accounts.models import Notification

    post = topic(people["author"], forums["public"])
    with django_capture_on_commit_callbacks(execute=True):
        reply_to(people["other"], post, "Ping @member")
    urls = set(
        Notification.objects.filter(user__in=[people["author"], people["member"]]).values_list(
            "url", flat=True
        )
    )
    assert urls == {post.get_absolute_url()}


# --- search on the pages -----------------------------------------------------------------------------


def test_the_forum_search_box_finds_topics_by_their_text_and_replies_within_what_the_viewer_sees(client):
    public = Channel.objects.create(name="help", type="forum")
    private = Channel.objects.create(name="staff-room", type="forum", is_private=True)
    author = UserFactory(username="writer")
    hit = services.forum_post_create(actor=author, channel=public, title="Deploying daphne", content="How?")
    by_reply = services.forum_post_create(actor=author, channel=public, title="Servers", content="Which one?")
    services.forum_reply_create(actor=author, post=by_reply, content="daphne behind nginx works")
    services.forum_post_create(actor=author, channel=public, title="Unrelated", content="celery beat")
    ChannelMember.objects.create(channel=private, user=author)
    services.forum_post_create(actor=author, channel=private, title="Secret daphne plans", content="x")
    client.force_login(UserFactory(username="reader"))

    response = client.get("/forum/", {"q": "daphne"})

    assert response.status_code == 200
    titles = [t.title for t in response.context["page"].object_list]
    assert sorted(titles) == ["Deploying daphne", "Servers"]  # not the private forum's, not the unrelated
    body = response.content.decode()
    assert "<mark>daphne</mark>" in body  # the snippet marks the words found
    assert '<meta name="robots" content="noindex' in body  # result pages are not content
    assert 'value="daphne"' in body  # the box keeps the query
    assert hit.get_absolute_url() in body

    in_channel = client.get(f"/forum/{public.pk}/", {"q": "celery"})
    assert [t.title for t in in_channel.context["page"].object_list] == ["Unrelated"]
    assert "No topic matches" in client.get("/forum/", {"q": "kubernetes"}).content.decode()


def test_a_too_long_forum_search_is_a_400_naming_the_limit(client):
    client.force_login(UserFactory())
    response = client.get("/forum/", {"q": "x" * 201})
    assert response.status_code == 400
    assert "at most 200 characters" in response.content.decode()
