"""Content moderation keeps from others (shadowed, pending, hidden) is seen by its author and staff only,
over REST and the pages: histories, threads, message reads, topic lists, topics, replies, search, unread
counts, and notifications."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Notification
from community import services
from community.models import Channel, ForumPost, ForumReply, Message
from moderation.models import ProfanityPattern
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def setup(db, settings):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}
    ProfanityPattern.objects.create(pattern="vile", action="shadowban", category="abuse")
    ProfanityPattern.objects.create(pattern="hold", action="require_approval", category="links")


@pytest.fixture
def who(db):
    return {"author": UserFactory(username="author"), "other": UserFactory(username="other"),
            "staff": StaffFactory(username="mod")}


def as_(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def chat(who):
    channel = Channel.objects.create(name="general")
    root = services.message_post(actor=who["other"], channel=channel, content="root")
    shadowed = services.message_post(actor=who["author"], channel=channel, content="vile words @other")
    pending_reply = services.message_post(actor=who["author"], channel=channel, content="hold this", parent=root)
    return {"channel": channel, "root": root, "shadowed": shadowed, "pending_reply": pending_reply}


@pytest.fixture
def topics(who):
    forum = Channel.objects.create(name="help", type="forum")
    open_topic = services.forum_post_create(actor=who["other"], channel=forum, title="Open", content="question")
    shadowed = services.forum_post_create(actor=who["author"], channel=forum, title="Mine", content="vile stuff")
    held_reply = services.forum_reply_create(actor=who["author"], post=open_topic, content="hold: zebracorn")
    return {"forum": forum, "open": open_topic, "shadowed": shadowed, "held_reply": held_reply}


SEES = [("author", True), ("other", False), ("staff", True)]


@pytest.mark.parametrize("name, sees", SEES)
def test_channel_history(who, chat, name, sees):
    ids = [m["id"] for m in as_(who[name]).get(f"/api/community/channels/{chat['channel'].pk}/messages/").json()["results"]]
    assert (str(chat["shadowed"].pk) in ids) is sees
    assert str(chat["root"].pk) in ids


@pytest.mark.parametrize("name, sees", SEES)
def test_one_message_and_its_thread(who, chat, name, sees):
    client = as_(who[name])
    response = client.get(f"/api/community/messages/{chat['shadowed'].pk}/")
    assert response.status_code == (200 if sees else 404)
    thread = client.get(f"/api/community/messages/{chat['root'].pk}/thread/").json()["results"]
    assert (str(chat["pending_reply"].pk) in [m["id"] for m in thread]) is sees
    reply = client.get(f"/api/community/messages/{chat['pending_reply'].pk}/")
    assert reply.status_code == (200 if sees else 404)
    assert client.post(f"/api/community/messages/{chat['shadowed'].pk}/reactions/", {"emoji": "👍"},
                       format="json").status_code == (200 if sees else 404)


def test_the_thread_count_and_unread_are_what_others_see(who, chat):
    chat["root"].refresh_from_db()
    assert chat["root"].reply_count == 0
    unread = {c["name"]: c["unread"] for c in as_(who["other"]).get("/api/community/channels/").json()["results"]}
    assert unread["general"] == 1  # their own root; not the shadowed message


def test_no_mention_from_content_kept_from_others(who, chat, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(actor=who["author"], channel=chat["channel"], content="vile @other")
        services.message_post(actor=who["author"], channel=chat["channel"], content="hold @other")
    assert not Notification.objects.filter(user=who["other"]).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(actor=who["author"], channel=chat["channel"], content="hi @other")
    assert Notification.objects.filter(user=who["other"], kind="mention").count() == 1


@pytest.mark.parametrize("name, sees", SEES)  # the API is for signed-in users; anonymous readers: the pages
def test_forum_topics_replies_and_search(who, topics, name, sees):
    client = as_(who[name])
    listed = [p["id"] for p in client.get("/api/forum/posts/").json()["results"]]
    assert (str(topics["shadowed"].pk) in listed) is sees
    assert client.get(f"/api/forum/posts/{topics['shadowed'].pk}/").status_code == (200 if sees else 404)
    replies = [r["id"] for r in client.get(f"/api/forum/posts/{topics['open'].pk}/replies/").json()["results"]]
    assert (str(topics["held_reply"].pk) in replies) is sees
    found = [p["id"] for p in client.get("/api/forum/posts/", {"q": "zebracorn"}).json()["results"]]
    # The search index is shared by every reader: held or shadowed text never finds a topic.
    assert found == []


@pytest.mark.parametrize("name, sees", [*SEES, ("anonymous", False)])
def test_forum_pages(client, who, topics, name, sees):
    if who.get(name) is not None:
        client.force_login(who[name])
    page = client.get(topics["shadowed"].get_absolute_url())
    # Refused as any topic one may not read: 404, or for an anonymous reader the sign-in page.
    assert page.status_code == (200 if sees else 302 if name == "anonymous" else 404)
    assert ("vile stuff" in page.content.decode()) is sees
    topic_page = client.get(topics["open"].get_absolute_url()).content.decode()
    assert ("zebracorn" in topic_page) is sees
    index = client.get(f"/forum/{topics['forum'].pk}/").content.decode()
    assert ("Mine" in index) is sees


def test_forum_counts_are_what_others_see(who, topics):
    topics["open"].refresh_from_db()
    assert topics["open"].reply_count == 0
    channels = as_(who["other"]).get("/forum/").content.decode()
    assert channels  # renders; the topic count per forum is the viewer's
    from community import selectors

    counts = {c.name: c.topic_count for c in selectors.forum_channel_list_visible_to(user=who["other"])}
    assert counts["help"] == 1
    counts = {c.name: c.topic_count for c in selectors.forum_channel_list_visible_to(user=who["author"])}
    assert counts["help"] == 2


def test_no_reply_notification_for_a_held_reply(who, topics, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.forum_reply_create(actor=who["author"], post=topics["open"], content="hold on @other")
    assert not Notification.objects.filter(user=who["other"]).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.forum_reply_create(actor=who["author"], post=topics["open"], content="a fine answer")
    assert Notification.objects.filter(user=who["other"], kind="forum_reply").count() == 1


def test_states_are_stored(chat, topics):
    assert Message.objects.get(pk=chat["shadowed"].pk).moderation_state == "shadowed"
    assert Message.objects.get(pk=chat["pending_reply"].pk).moderation_state == "pending"
    assert ForumPost.objects.get(pk=topics["shadowed"].pk).moderation_state == "shadowed"
    assert ForumReply.objects.get(pk=topics["held_reply"].pk).moderation_state == "pending"
