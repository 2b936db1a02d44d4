"""Staff moderate the forum in the admin, through the same services as the API."""

import pytest

from community import services
from community.models import Channel, ForumPost, ForumPostEdit, ForumReply
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return StaffFactory(is_superuser=True)


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def topic():
    forum = Channel.objects.create(name="help", type="forum")
    return services.forum_post_create(actor=UserFactory(), channel=forum, title="Old", content="old text")


@pytest.mark.parametrize("action, field, value", [("pin", "is_pinned", True), ("lock", "is_locked", True)])
def test_pin_and_lock_actions(admin_client, topic, action, field, value):
    response = admin_client.post("/admin/community/forumpost/", {"action": action, "_selected_action": [str(topic.pk)]}, follow=True)
    assert response.status_code == 200
    topic.refresh_from_db()
    assert getattr(topic, field) is value


def test_editing_in_the_admin_keeps_history(admin_client, topic, staff):
    response = admin_client.post(f"/admin/community/forumpost/{topic.pk}/change/", {
        "title": "New", "content": "new text",
        "edits-TOTAL_FORMS": "0", "edits-INITIAL_FORMS": "0", "edits-MIN_NUM_FORMS": "0", "edits-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    topic.refresh_from_db()
    assert (topic.title, topic.content) == ("New", "new text") and topic.edited_at
    edit = ForumPostEdit.objects.get(post=topic)
    assert (edit.title, edit.content, edit.edited_by) == ("Old", "old text", staff)


def test_soft_delete_replies_action_recounts(admin_client, topic):
    reply = services.forum_reply_create(actor=UserFactory(), post=topic, content="spam")
    admin_client.post("/admin/community/forumreply/", {"action": "soft_delete", "_selected_action": [str(reply.pk)]}, follow=True)
    assert ForumReply.objects.get(pk=reply.pk).deleted_at is not None
    assert ForumPost.objects.get(pk=topic.pk).reply_count == 0


def test_admin_pages_render(admin_client, topic):
    services.forum_reply_create(actor=UserFactory(), post=topic, content="hi")
    for url in ("/admin/community/forumpost/", f"/admin/community/forumpost/{topic.pk}/change/", "/admin/community/forumreply/"):
        assert admin_client.get(url).status_code == 200


def test_the_admin_does_not_delete_topics_around_the_service(admin_client, topic):
    assert admin_client.get(f"/admin/community/forumpost/{topic.pk}/delete/").status_code == 403
