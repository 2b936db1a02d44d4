"""Content rules on every path users write through: block (400 naming the category), censor (masked),
warn (accepted, queued), require approval (pending, queued) and shadowban (shadowed) — chat messages
(create and edit), forum topics (title and text, create and edit), replies (create and edit), profile
fields, usernames (the API and sign-up) and project names."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from community import services
from community.models import Channel, ForumPost, ForumReply, Message
from moderation.models import ItemSource, ModerationItem, ProfanityPattern
from projects.models import Project
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rules_(db, settings):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}
    for pattern, action, category in [
        ("scam", "block", "fraud"),
        ("darn", "censor", "language"),
        ("meh", "warn", "tone"),
        ("hold", "require_approval", "links"),
        ("vile", "shadowban", "abuse"),
    ]:
        ProfanityPattern.objects.create(pattern=pattern, action=action, category=category)


@pytest.fixture
def author():
    return UserFactory(username="writer")


@pytest.fixture
def client_(author):
    client = APIClient()
    client.force_authenticate(author)
    return client


@pytest.fixture
def general(db):
    return Channel.objects.create(name="general")


@pytest.fixture
def forum(db):
    return Channel.objects.create(name="help", type="forum")


def queued(content_type, content_id):
    return list(
        ModerationItem.objects.filter(source=ItemSource.RULE, content_type=content_type, content_id=str(content_id))
        .values_list("rule__action", flat=True)
    )


def refused(response, field, category):
    assert response.status_code == 400, response.content
    body = response.json()
    text = str(body)
    assert category in text and "scam" not in text.lower().replace("s c a m", ""), body
    assert field in text


# --- chat messages -----------------------------------------------------------------------------------


def test_message_actions_over_rest(client_, general):
    url = f"/api/community/channels/{general.pk}/messages/"
    refused(client_.post(url, {"content": "a s.c.a.m"}, format="json"), "content", "fraud")
    assert not Message.objects.exists()

    censored = client_.post(url, {"content": "oh darn"}, format="json")
    assert censored.status_code == 201 and censored.json()["content"] == "oh d***"

    warned = client_.post(url, {"content": "meh"}, format="json").json()
    assert Message.objects.get(pk=warned["id"]).moderation_state == "visible"
    assert queued("message", warned["id"]) == ["warn"]

    held = client_.post(url, {"content": "please h0ld"}, format="json").json()
    assert Message.objects.get(pk=held["id"]).moderation_state == "pending"
    assert queued("message", held["id"]) == ["require_approval"]

    shadowed = client_.post(url, {"content": "v1le"}, format="json").json()
    assert Message.objects.get(pk=shadowed["id"]).moderation_state == "shadowed"


def test_message_edit_is_screened_and_never_unhides(client_, general, author):
    message = services.message_post(actor=author, channel=general, content="hello")
    url = f"/api/community/messages/{message.pk}/"
    refused(client_.patch(url, {"content": "sсam"}, format="json"), "content", "fraud")
    message.refresh_from_db()
    assert message.content == "hello"
    assert client_.patch(url, {"content": "darn"}, format="json").json()["content"] == "d***"
    client_.patch(url, {"content": "vile"}, format="json")
    message.refresh_from_db()
    assert message.moderation_state == "shadowed"
    client_.patch(url, {"content": "all fine now"}, format="json")
    message.refresh_from_db()
    assert message.moderation_state == "shadowed"  # staff decide, not an edit


# --- forum -------------------------------------------------------------------------------------------


def test_forum_topic_title_and_text(client_, forum):
    refused(client_.post("/api/forum/posts/", {"channel": str(forum.pk), "title": "s c a m", "content": "x"},
                         format="json"), "title", "fraud")
    refused(client_.post("/api/forum/posts/", {"channel": str(forum.pk), "title": "ok", "content": "5cam"},
                         format="json"), "content", "fraud")
    assert not ForumPost.objects.exists()
    created = client_.post("/api/forum/posts/", {"channel": str(forum.pk), "title": "darn title", "content": "hold it"},
                           format="json")
    assert created.status_code == 201
    post = ForumPost.objects.get()
    assert (post.title, post.moderation_state) == ("d*** title", "pending")
    assert queued("forum_post", post.pk) == ["require_approval"]
    response = client_.patch(f"/api/forum/posts/{post.pk}/", {"title": "a scam"}, format="json")
    refused(response, "title", "fraud")


def test_forum_topic_edit_can_shadow(client_, forum, author):
    post = services.forum_post_create(actor=author, channel=forum, title="Fine", content="Fine")
    assert client_.patch(f"/api/forum/posts/{post.pk}/", {"content": "vile"}, format="json").status_code == 200
    post.refresh_from_db()
    assert post.moderation_state == "shadowed"


def test_forum_replies_create_and_edit(client_, forum, author):
    post = services.forum_post_create(actor=UserFactory(), channel=forum, title="Q", content="?")
    url = f"/api/forum/posts/{post.pk}/replies/"
    refused(client_.post(url, {"content": "$cam"}, format="json"), "content", "fraud")
    held = client_.post(url, {"content": "hold"}, format="json")
    assert held.status_code == 201
    reply = ForumReply.objects.get()
    assert reply.moderation_state == "pending"
    post.refresh_from_db()
    assert post.reply_count == 0  # the count others see
    visible = client_.post(url, {"content": "meh"}, format="json").json()
    post.refresh_from_db()
    assert post.reply_count == 1
    assert queued("forum_reply", visible["id"]) == ["warn"]
    edit = client_.patch(f"/api/forum/replies/{visible['id']}/", {"content": "s-c-a-m"}, format="json")
    refused(edit, "content", "fraud")
    client_.patch(f"/api/forum/replies/{visible['id']}/", {"content": "vile"}, format="json")
    post.refresh_from_db()
    assert ForumReply.objects.get(pk=visible["id"]).moderation_state == "shadowed"
    assert post.reply_count == 0


# --- profiles, usernames, projects ---------------------------------------------------------------------


def test_profile_fields_and_username_over_the_api(client_, author):
    refused(client_.patch("/api/me/", {"bio": "total scam"}, format="json"), "bio", "fraud")
    refused(client_.patch("/api/me/", {"full_name": "Mr Sсam"}, format="json"), "full_name", "fraud")
    refused(client_.patch("/api/me/", {"username": "vile_one"}, format="json"), "username", "abuse")
    refused(client_.patch("/api/me/", {"username": "darn"}, format="json"), "username", "language")
    response = client_.patch("/api/me/", {"full_name": "Darn Smith", "bio": "vile and hold"}, format="json")
    assert response.status_code == 200
    assert response.json()["full_name"] == "D*** Smith"
    assert response.json()["bio"] == "vile and hold"  # a profile cannot be hidden: flagged instead
    assert sorted(queued("profile", author.pk)) == ["require_approval", "shadowban"]
    assert client_.patch("/api/me/", {"username": "meh"}, format="json").status_code == 200
    assert "warn" in queued("profile", author.pk)


def test_signup_refuses_a_username_a_rule_blocks(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "username": "scam_king", "password1": TEST_PASSWORD, "password2": TEST_PASSWORD},
    )
    assert response.status_code == 200
    assert "fraud" in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_signup_flags_a_warned_username(client):
    client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "username": "meh", "password1": TEST_PASSWORD, "password2": TEST_PASSWORD},
    )
    user = User.objects.get(email="new@example.com")
    assert queued("profile", user.pk) == ["warn"]


def test_project_names(client_, author):
    refused(client_.post("/api/projects/", {"name": "Scam bot"}, format="json"), "name", "fraud")
    created = client_.post("/api/projects/", {"name": "darn bot"}, format="json")
    assert created.status_code == 201 and created.json()["name"] == "d*** bot"
    project = Project.objects.get()
    refused(client_.patch(f"/api/projects/{project.pk}/", {"name": "sc4m"}, format="json"), "name", "fraud")
    assert client_.patch(f"/api/projects/{project.pk}/", {"name": "vile bot"}, format="json").status_code == 200
    assert queued("project", project.pk) == ["shadowban"]


# --- the pages' forms ----------------------------------------------------------------------------------


def test_pages_show_the_refusal_on_the_field(client, author, forum):
    client.force_login(author)
    post = services.forum_post_create(actor=UserFactory(), channel=forum, title="Q", content="?")
    response = client.post(f"/forum/t/{post.pk}/reply/", {"content": "what a s c a m"})
    assert response.status_code == 400 and "fraud" in response.content.decode()
    assert not ForumReply.objects.exists()
    response = client.post(f"/forum/{forum.pk}/new/", {"title": "5cam", "content": "x"})
    assert "fraud" in response.content.decode()
    assert ForumPost.objects.count() == 1
    response = client.post("/account/", {"username": author.username, "bio": "scam"})
    assert response.status_code == 200 and "fraud" in response.content.decode()
    author.profile.refresh_from_db()
    assert author.profile.bio != "scam"
