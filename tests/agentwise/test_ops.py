"""Ops: the demo seed, the Celery app wiring and the site's pages."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.demo import DEMO_PASSWORD
from accounts.models import User
from agentwise.celery import app as celery_app
from tests.pages import fetched_urls, foreign_fetches

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_prints_how_to_sign_in(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())
    assert User.objects.filter(email__endswith="@agentwise.test").count() == 5
    assert User.objects.filter(is_staff=True).count() == 1
    assert "staff@agentwise.test" in out.getvalue() and DEMO_PASSWORD in out.getvalue()
    from community.models import Channel, Message
    from projects.models import AgentExecution, Project

    assert Project.objects.count() == 5 and AgentExecution.objects.count() >= 300
    assert Channel.objects.count() == 7 and Message.objects.count() >= 8
    from community.models import ForumPost, ForumPostTag, ForumReply

    assert Channel.objects.filter(type="forum").count() == 2
    assert ForumPost.objects.count() == 5 and ForumReply.objects.count() == 7  # once, however often it runs
    assert ForumPost.objects.filter(is_pinned=True).count() == 1
    assert ForumReply.objects.filter(is_solution=True).count() == 2
    assert ForumPostTag.objects.filter(tag="cli").count() == 1
    solved = ForumPost.objects.get(title__startswith="The CLI says")
    assert solved.reply_count == 3 and solved.tags == ["cli", "api-keys"]
    from content.models import Campaign, Subscriber

    assert Subscriber.objects.filter(status="active").count() == 8  # 5 demo users and 3 readers
    [campaign] = Campaign.objects.all()  # once, however often it runs
    assert campaign.status == "sent" and (campaign.sent_count, campaign.total_count) == (8, 8)

    client = Client()
    client.post("/account/login/", {"login": "ada@agentwise.test", "password": DEMO_PASSWORD})
    assert client.get("/api/me/").json()["username"] == "ada"


def test_seed_demo_refuses_production_by_default(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo", stdout=StringIO())


def test_celery_reads_django_settings():
    assert celery_app.main == "agentwise"
    assert celery_app.conf.task_default_queue == "agentwise"


def assert_served_without_a_cdn(html):
    """The page loads its assets from this site only: read from its tags, since a CSRF token may spell "cdn"."""
    assert "/static/css/site.css" in fetched_urls(html)
    assert foreign_fetches(html) == []


@pytest.mark.parametrize("path", ["/", "/blog/", "/docs/", "/forum/", "/pricing/", "/account/login/", "/account/signup/"])
def test_public_pages_render_with_navigation(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    for label in ["Projects", "Community", "Forum", "Blog", "Docs", "Pricing"]:
        assert f">{label}</a>" in html
    assert "Sign in" in html
    assert_served_without_a_cdn(html)


@pytest.mark.parametrize("path", ["/projects/", "/community/", "/account/usage/"])
def test_member_pages_send_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/account/login/?next={path}"


@pytest.mark.parametrize("path", ["/projects/", "/community/", "/account/usage/"])
def test_member_pages_render_with_navigation_when_signed_in(client, user, path):
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    for label in ["Projects", "Community", "Forum", "Blog", "Docs", "Pricing"]:
        assert f">{label}</a>" in html
    assert "Sign out" in html
    assert_served_without_a_cdn(html)


def test_navigation_shows_sign_in_state(client, user):
    client.force_login(user)
    html = client.get("/").content.decode()
    assert f"@{user.username}" in html and "Sign out" in html and "Account" in html
