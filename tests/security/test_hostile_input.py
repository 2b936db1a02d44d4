"""Hostile input comes out inert: each payload is written into every text field a member or staff can fill
(profile, project, chat message, forum topic and reply, blog post and docs page in every block type, a
newsletter campaign, and through them notifications), then every page, the admin, the feed, the emails and
the API answers are read as a browser or mail client would, and nothing in them can run script.

API answers are JSON data: their text fields give the text back as written (a client escapes it), their
``*_html`` fields are sanitised HTML like the pages."""

from __future__ import annotations

import json
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from django.contrib import admin
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from content.newsletter import services as newsletter_services
from tests.security.conftest import build_world
from tests.security.markup import dangerous_url, executable_markup
from tests.security.routes import admin_pages, parameterless_pages, parametrised_pages

pytestmark = pytest.mark.django_db

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "handler": "<img src=x onerror=alert(1)>",
    "markdown-link": "[x](javascript:alert(1)) ![y](javascript:alert(1)) <javascript:alert(1)> [z](JaVa%0aScRiPt:alert(1))",
    "raw-anchor": '<a href="javascript:alert(1)">x</a> <a href="jav&#x09;ascript:alert(1)">y</a>',
    "attribute-break": '"><svg onload=alert(1)>',
    "quote-break": "'><iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "data-url": "[d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) <object data=x.swf>",
    "style": "<style>*{}</style><div style=\"background:url(javascript:alert(1))\">s</div>",
    "code-fence": "```html\n<script>alert(1)</script>\n```\n`<img src=x onerror=alert(1)>`",
}


def inert(html: str, where: str) -> None:
    findings = executable_markup(html)
    assert findings == [], f"{where}: {findings}"


def html_strings(value, key=""):
    """Every string under a key naming HTML (``content_html``, ``html``...) in a JSON answer."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from html_strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from html_strings(item, key)
    elif isinstance(value, str) and "html" in key:
        yield key, value


@pytest.fixture(params=list(PAYLOADS), ids=list(PAYLOADS))
def hostile(request, commit):
    mail.outbox.clear()
    text = PAYLOADS[request.param]
    world = build_world(text, commit=commit)
    return text, world


def test_fields_of_a_fixed_shape_refuse_the_payload(hostile):
    """Handles, usernames and links are refused at the door when they are not that shape."""
    _text, world = hostile
    assert world.refused == {
        "github_username": 400, "twitter_handle": 400, "username": 400,
        "website": 400, "avatar_url": 400, "github_repo": 400,
    }


# The admin renders every field through Django's auto-escaping and its own widgets: one payload of each kind
# that could break out (an element, an event handler, an attribute break, a javascript: link) covers it, and
# walking every admin page per payload is the slowest part of this module.
ADMIN_PAYLOADS = ["script", "handler", "attribute-break", "raw-anchor"]


@pytest.fixture(params=ADMIN_PAYLOADS, ids=ADMIN_PAYLOADS)
def hostile_for_admin(request, commit):
    mail.outbox.clear()
    return PAYLOADS[request.param], build_world(PAYLOADS[request.param], commit=commit)


def test_every_page_is_inert(hostile):
    text, world = hostile
    paths = parameterless_pages() + parametrised_pages(world) + [
        f"/docs/search/?q={quote(text)}", f"/forum/?q={quote(text)}", f"/forum/?tag={quote(text)}",
    ]
    for user in (None, world.author, world.reader):
        client = Client()
        if user is not None:
            client.force_login(user)
        for path in paths:
            response = client.get(path)
            assert response.status_code < 500, (path, response.status_code)
            if response.get("Content-Type", "").startswith("text/html"):
                inert(response.content.decode(), f"{path} as {user}")
    # The payload did reach the pages, as text: it was not refused or lost on the way.
    page = Client().get(world.topic.get_absolute_url()).content.decode()
    assert escape(world.topic.title) in page


def test_every_admin_page_is_inert(hostile_for_admin):
    _text, world = hostile_for_admin
    staff = Client()
    staff.force_login(world.staff)
    paths = admin_pages()
    for model in admin.site._registry:
        opts = model._meta
        for pk in model._default_manager.values_list("pk", flat=True)[:5]:
            paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk]))
    paths.append(reverse("admin:content_campaign_preview", args=[world.campaign.pk]))
    for path in paths:
        response = staff.get(path)
        assert response.status_code < 500, (path, response.status_code)
        if response.get("Content-Type", "").startswith("text/html"):
            inert(response.content.decode(), path)


def test_the_feed_is_inert(hostile):
    _text, world = hostile
    response = Client().get("/blog/feed/")
    assert response.status_code == 200
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ElementTree.fromstring(response.content)
    entries = feed.findall(f"{atom}entry")
    assert entries
    for element in feed.iter():
        if element.get("type") == "html" and element.text:
            inert(element.text, f"feed {element.tag}")
        for name in ("href", "src"):
            assert not dangerous_url(element.get(name, "")), element.attrib


def test_every_email_is_inert(hostile, commit):
    text, world = hostile
    from accounts.models import Notification
    from accounts.notifications import notification_digest_send, notification_email_enqueue

    with commit():
        newsletter_services.campaign_send_test(actor=world.staff, campaign=world.campaign)
        # Mentions wait for the daily digest; the author's reply notice is sent on its own as an immediate one is.
        assert notification_digest_send(user=world.reader) > 0
        notification_email_enqueue(notification=Notification.objects.filter(user=world.author).latest("pk"))
    from agentwise.models import OutboundEmail

    # Every email went out: a line break in a title or subject does not make one fail on every attempt.
    assert list(OutboundEmail.objects.exclude(status="sent").values_list("subject", flat=True)) == []
    subjects = [message.subject for message in mail.outbox]
    assert any(message.to == [world.staff.email] for message in mail.outbox), subjects  # the campaign
    assert any(message.to == [world.reader.email] for message in mail.outbox), subjects  # the digest
    assert any(message.to == [world.author.email] for message in mail.outbox), subjects  # one notification
    for message in mail.outbox:
        assert message.content_subtype == "plain"  # the text part is text, whatever it says
        for content, kind in getattr(message, "alternatives", []):
            assert kind == "text/html"
            inert(content, f"email {message.subject!r}")


def test_api_answers_are_json_and_their_html_is_inert(hostile):
    text, world = hostile
    client = APIClient()
    client.force_authenticate(world.reader)
    paths = [
        "/api/me/",
        f"/api/profiles/{world.author.username}/",
        f"/api/community/channels/{world.chat.pk}/messages/",
        "/api/community/channels/",
        "/api/forum/posts/",
        f"/api/forum/posts/{world.topic.pk}/",
        f"/api/forum/posts/{world.topic.pk}/replies/",
        "/api/blog/posts/",
        f"/api/blog/posts/{world.post.pk}/",
        "/api/docs/pages/",
        f"/api/docs/pages/{world.page.pk}/",
        f"/api/docs/search/?q={quote(text[:100])}",
        "/api/notifications/",
    ]
    owner = APIClient()
    owner.force_authenticate(world.author)
    answers = [(path, client.get(path)) for path in paths]
    answers += [(path, owner.get(path)) for path in ("/api/projects/", f"/api/projects/{world.project.pk}/", "/api/notifications/")]
    preview = owner.post("/api/forum/preview/", {"content": text}, format="json")
    answers.append(("/api/forum/preview/", preview))
    for path, response in answers:
        assert response.status_code == 200, (path, response.status_code, response.content[:200])
        assert response["Content-Type"] == "application/json", path  # never rendered as a page
        assert response["X-Content-Type-Options"] == "nosniff", path
        for key, html in html_strings(json.loads(response.content)):
            inert(html, f"{path} {key}")
    # Text fields are data, given back as written.
    message = answers[2][1].json()["results"][0]
    assert message["content"] == text


@pytest.mark.parametrize("html", [
    "<script>alert(1)</script>",
    '<script src="https://cdn.example/x.js"></script>',
    "<img src=x onerror=alert(1)>",
    "<svg><a xlink:href='javascript:alert(1)'>x</a></svg>",
    '<a href=" java\tscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    "<object data=x.swf></object>",
    '<form><button formaction="javascript:alert(1)">x</button></form>',
])
def test_the_reader_finds_what_would_run(html):
    assert executable_markup(html) != []


def test_the_reader_passes_our_own_scripts_and_data_blocks():
    assert executable_markup(
        '<script src="/static/js/site.js" defer></script><script type="application/json" id="c">{"a": "<b>"}</script>'
        '<a href="https://example.com/">x</a><img src="data:image/png;base64,AAAA">'
    ) == []
