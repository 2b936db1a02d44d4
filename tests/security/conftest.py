"""A populated site for the security tests: every text a member or staff can write that some page, feed,
email or API answer renders, written through the doors people use (the API, the services behind the admin)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

from community.models import Channel
from content import services as content_services
from content.models import PublicationStatus
from content.newsletter import services as newsletter_services
from tests.billing.conftest import _fake_stripe_server, fake_stripe, stripe_catalog  # noqa: F401 (fixtures)
from tests.factories import StaffFactory, UserFactory, make_api_key


@dataclass
class World:
    author: object
    reader: object
    staff: object
    project: object = None
    chat: object = None
    message_id: str = ""
    forum: object = None
    topic: object = None
    reply: object = None
    post: object = None
    page: object = None
    campaign: object = None
    refused: dict = field(default_factory=dict)  # field -> status of a write the API refused


def blocks(text: str) -> list[dict]:
    """Every block type, each carrying ``text`` wherever the block takes text."""
    return [
        {"type": "paragraph", "text": text},
        {"type": "heading", "text": " ".join(text.split()), "level": 2},  # one line
        {"type": "code", "language": "html", "text": text},
        {"type": "image", "url": "https://images.example/a.png", "alt": text, "caption": text},
        {"type": "quote", "text": text, "attribution": text},
        {"type": "callout", "text": text, "style": "warning"},
        {"type": "embed", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"},
    ]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def build_world(text: str, *, commit) -> World:
    """Writes ``text`` into every rendered text field; ``commit`` runs on-commit work (emails, indexing)."""
    author = UserFactory(username="author")
    reader = UserFactory(username="reader")
    staff = StaffFactory(username="editor", is_superuser=True)
    world = World(author=author, reader=reader, staff=staff)
    me = api(author)
    with commit():
        response = me.patch("/api/me/", {
            "full_name": text[:255], "bio": text, "company": text[:255], "location": text[:255],
        }, format="json")
        assert response.status_code == 200, response.content
        # A URL that is valid but carries the payload in its path (URLs hold no spaces).
        response = me.patch("/api/me/", {
            "website": "https://example.com/" + "".join(text.split()),
            "avatar_url": "https://avatars.example/" + "".join(text.split()),
        }, format="json")
        assert response.status_code == 200, response.content
        # Fields whose shape the API holds to (handles, URLs) refuse what is not that shape.
        for name, value in {"github_username": text, "twitter_handle": text, "username": text,
                            "website": "javascript:alert(1)", "avatar_url": "javascript:alert(1)"}.items():
            world.refused[name] = me.patch("/api/me/", {name: value}, format="json").status_code

        response = me.post("/api/projects/", {
            "name": text[:255], "description": text, "type": "cli", "tech_stack": [text[:40], "Python"],
        }, format="json")
        assert response.status_code == 201, response.content
        from projects.models import Project
        world.project = Project.objects.get(pk=response.json()["id"])
        world.refused["github_repo"] = me.patch(
            f"/api/projects/{world.project.pk}/", {"github_repo": "javascript:alert(1)"}, format="json"
        ).status_code

        response = me.post(f"/api/projects/{world.project.pk}/executions/", {
            "agent_type": text[:100], "command": text[:255], "status": "failed", "model": text[:100],
            "error_message": text,
        }, format="json")
        assert response.status_code == 201, response.content
        make_api_key(author, name=text[:100])

        world.chat = Channel.objects.create(name="general", description=text[:2000], category="Chat")
        response = me.post(f"/api/community/channels/{world.chat.pk}/messages/", {"content": text}, format="json")
        assert response.status_code == 201, response.content
        world.message_id = response.json()["id"]

        world.forum = Channel.objects.create(name="help", type="forum", category="Forums")
        response = me.post("/api/forum/posts/", {
            "channel": str(world.forum.pk), "title": text[:255], "content": f"@reader {text}",
        }, format="json")
        assert response.status_code == 201, response.content
        from community.models import ForumPost, ForumReply
        world.topic = ForumPost.objects.get(pk=response.json()["id"])
        response = api(reader).post(
            f"/api/forum/posts/{world.topic.pk}/replies/", {"content": f"@author {text}"}, format="json"
        )
        assert response.status_code == 201, response.content
        world.reply = ForumReply.objects.get(pk=response.json()["id"])

        response = api(reader).post("/api/reports/", {
            "content_type": "forum_post", "content_id": str(world.topic.pk), "reason": text[:255],
        }, format="json")
        assert response.status_code == 201, response.content

        world.post = content_services.blog_post_create(
            actor=staff,
            fields={"title": text[:255], "excerpt": text, "content": blocks(text), "tags": ["agents"],
                    "seo_meta": {"title": text[:255], "description": text[:500]}},
            status=PublicationStatus.PUBLISHED,
        )
        world.page = content_services.documentation_create(
            actor=staff,
            fields={"title": text[:255], "slug": "hostile", "category": text[:100], "content": blocks(text),
                    "version": "1.0", "is_published": True},
        )
        world.campaign = newsletter_services.campaign_create(
            actor=staff, fields={"subject": text[:255], "preheader": text[:255], "content": blocks(text)}
        )
    return world


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def plain_world(db, commit):
    return build_world("Plain words about agents", commit=commit)
