"""Staff moderation in the admin: channels and members, soft deletes, removing a spammer's recent messages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agentwise.access import can
from community import services
from community.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, people):
    people["staff"].is_superuser = True
    people["staff"].save()
    client.force_login(people["staff"])
    return client


def test_staff_purge_all_recent_messages_of_a_spammer_in_one_action(admin_client, people, channels_, settings, django_capture_on_commit_callbacks):
    settings.COMMUNITY_POST_RATE = {"messages": 100, "seconds": 10}
    spam = [services.message_post(actor=people["bob"], channel=channels_["general"], content=f"BUY NOW {i}") for i in range(5)]
    old = services.message_post(actor=people["bob"], channel=channels_["general"], content="old, legit")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    keep = services.message_post(actor=people["alice"], channel=channels_["general"], content="hello")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            "/admin/community/message/",
            {"action": "purge_authors_recent_messages", "_selected_action": [str(spam[0].pk)]},
            follow=True,
        )
    assert response.status_code == 200
    assert "Removed 5 messages by bob" in response.content.decode()
    assert Message.objects.filter(user=people["bob"], deleted_at__isnull=False).count() == 5
    assert Message.objects.get(pk=old.pk).deleted_at is None
    assert Message.objects.get(pk=keep.pk).deleted_at is None
    assert len(callbacks) == 1  # one after-commit broadcast of the deletions


def test_members_cannot_purge(people):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.user_messages_purge(actor=people["alice"], user=people["bob"])


def test_admin_lists_channels_and_messages(admin_client, people, channels_):
    services.message_post(actor=people["alice"], channel=channels_["general"], content="findable text")
    assert "staff-room" in admin_client.get("/admin/community/channel/").content.decode()
    assert "findable text" in admin_client.get("/admin/community/message/", {"q": "findable"}).content.decode()
    assert admin_client.get(f"/admin/community/channel/{channels_['private'].pk}/change/").status_code == 200


def test_staff_manage_private_channel_members(people, channels_):
    services.channel_member_add(actor=people["staff"], channel=channels_["private"], user=people["alice"])
    assert can(people["alice"], "community.view_channel", channels_["private"])
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.channel_member_add(actor=people["alice"], channel=channels_["private"], user=people["bob"])


def test_an_admin_edit_keeps_history_and_is_broadcast(admin_client, people, channels_, django_capture_on_commit_callbacks):
    message = services.message_post(actor=people["alice"], channel=channels_["general"], content="orignal tpyo")
    page = admin_client.get(f"/admin/community/message/{message.pk}/change/").content.decode()
    assert 'name="content"' in page and 'name="channel"' not in page and 'name="user"' not in page
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(f"/admin/community/message/{message.pk}/change/", {
            "content": "original typo fixed", "edits-TOTAL_FORMS": "0", "edits-INITIAL_FORMS": "0",
            "edits-MIN_NUM_FORMS": "0", "edits-MAX_NUM_FORMS": "1000"})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.content == "original typo fixed" and message.edited_at is not None
    assert list(message.edits.values_list("content", "edited_by")) == [("orignal tpyo", people["staff"].pk)]
    assert len(callbacks) == 1  # the message:edited broadcast, after commit


def test_a_deleted_message_cannot_be_brought_back_in_the_admin(admin_client, people, channels_):
    message = services.message_post(actor=people["alice"], channel=channels_["general"], content="gone")
    services.message_delete(actor=people["alice"], message=message)
    page = admin_client.get(f"/admin/community/message/{message.pk}/change/").content.decode()
    assert 'name="content"' not in page
    admin_client.post(f"/admin/community/message/{message.pk}/change/", {"content": "back again"})
    message.refresh_from_db()
    assert message.content == "gone" and message.deleted_at is not None


def test_making_a_channel_private_in_the_admin_goes_through_the_service(admin_client, channels_, django_capture_on_commit_callbacks):
    general = channels_["general"]
    data = {
        "name": general.name, "description": "", "category": general.category, "type": general.type,
        "is_private": "on", "state": general.state, "position": general.position, "permissions": "{}",
        "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0", "members-MIN_NUM_FORMS": "0", "members-MAX_NUM_FORMS": "1000",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(f"/admin/community/channel/{general.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    general.refresh_from_db()
    assert general.is_private and len(callbacks) == 1  # the access re-decision for open sockets
