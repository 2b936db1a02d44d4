"""One access layer: one refusal vocabulary rendered by every door, rules that are not Django
permissions (no accidental admin access), and no superuser bypass of a domain rule."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from agentwise.access import can, require
from agentwise.errors import Forbidden, NotFound, Refusal, as_refusal
from community.models import Channel
from projects import services as project_services
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_vocabulary_is_djangos_too():
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.http import Http404

    assert isinstance(NotFound(), Http404) and isinstance(Forbidden("no"), PermissionDenied)
    assert as_refusal(ValidationError({"name": "Bad."})).extra["fields"] == {"name": ["Bad."]}
    assert as_refusal(PermissionDenied("Nope."))
    assert as_refusal(RuntimeError("a bug")) is None  # faults are not refusals


def test_require_hides_what_the_actor_may_not_see():
    owner, stranger = UserFactory(), UserFactory()
    project = project_services.project_create(actor=owner, data={"name": "Secret"})
    with pytest.raises(NotFound):
        require(stranger, "projects.delete_project", project, hidden_unless="projects.view_project")
    with pytest.raises(Forbidden, match="Only the owner"):
        viewer = UserFactory()
        invitation = project_services.collaborator_invite(actor=owner, project=project, invitee=viewer, role="viewer")
        project_services.invitation_accept(actor=viewer, invitation=invitation)
        require(viewer, "projects.delete_project", project, hidden_unless="projects.view_project", message="Only the owner.")


def test_one_refusal_reads_the_same_over_rest_pages_and_websockets(settings):
    """The same NotFound from the same selector: a JSON 404, the 404 page, and an `error` frame."""
    owner, stranger = UserFactory(), UserFactory()
    project = project_services.project_create(actor=owner, data={"name": "Secret"})
    api = APIClient()
    api.force_authenticate(stranger)
    assert api.get(f"/api/projects/{project.pk}/").json() == {"error": {"code": "not_found", "message": "Not found."}}
    browser = Client()
    browser.force_login(stranger)
    page = browser.get(f"/projects/{project.pk}/")
    assert page.status_code == 404 and "Secret" not in page.content.decode()


def test_a_forbidden_page_says_why(client):
    owner, viewer = UserFactory(), UserFactory()
    project = project_services.project_create(actor=owner, data={"name": "Shared"})
    invitation = project_services.collaborator_invite(actor=owner, project=project, invitee=viewer, role="viewer")
    project_services.invitation_accept(actor=viewer, invitation=invitation)
    client.force_login(viewer)
    response = client.post(f"/projects/{project.pk}/settings/", {"name": "Hijacked"})
    assert response.status_code == 403 and "Viewers cannot change the project." in response.content.decode()


def test_a_rate_limit_on_a_page_is_a_429_page_not_a_500(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "projects.invite": "1/hour"}
    owner = UserFactory()
    owner.profile.subscription_tier = "pro"
    owner.profile.save()
    project = project_services.project_create(actor=owner, data={"name": "Busy"})
    client.force_login(owner)
    first = client.post(f"/projects/{project.pk}/collaborators/", {"who": "a@example.com", "role": "viewer"})
    assert first.status_code == 302
    second = client.post(f"/projects/{project.pk}/collaborators/", {"who": "b@example.com", "role": "viewer"}, follow=True)
    assert second.status_code == 200 and "too fast" in second.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/accounts/profile/",  # "anyone may view a profile" must not open the admin's profile list
        "/admin/projects/project/",
        "/admin/community/channel/",
        "/admin/accounts/apikey/",
    ],
)
def test_domain_rules_grant_no_admin_access(client, path):
    moderator = StaffFactory()  # staff, but no Django model permissions
    client.force_login(moderator)
    assert client.get(path).status_code == 403


def test_admin_access_comes_from_django_permissions(client):
    moderator = StaffFactory()
    moderator.user_permissions.add(Permission.objects.get(codename="view_channel", content_type__app_label="community"))
    client.force_login(moderator)
    assert client.get("/admin/community/channel/").status_code == 200
    assert client.get("/admin/community/channel/add/").status_code == 403  # view only


def test_superusers_are_like_anyone_else_through_the_api():
    owner = UserFactory()
    root = UserFactory(is_superuser=True, is_staff=True)
    project = project_services.project_create(actor=owner, data={"name": "Not yours"})
    assert not can(root, "projects.view_project", project)
    assert root.has_perm("projects.view_project")  # Django's admin permission: the superuser has them all
    api = APIClient()
    api.force_authenticate(root)
    assert api.get(f"/api/projects/{project.pk}/").status_code == 404
    assert api.delete(f"/api/projects/{project.pk}/").status_code == 404


def test_deactivated_accounts_may_do_nothing():
    user = UserFactory()
    channel = Channel.objects.create(name="general")
    assert can(user, "community.post_message", channel)
    user.is_active = False
    assert not can(user, "community.post_message", channel)


@pytest.mark.django_db(transaction=True)
async def test_websocket_refusals_use_the_protocol_codes(settings):
    from channels.testing import WebsocketCommunicator

    from agentwise.asgi import application
    from tests.factories import make_api_key

    user = await sync_to_async(UserFactory)()
    channel = await sync_to_async(Channel.objects.create)(name="news", is_locked=True)
    _, key = await sync_to_async(make_api_key)(user)
    communicator = WebsocketCommunicator(application, "/ws/", headers=[
        (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"authorization", f"Bearer {key}".encode())])
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"type": "message:send", "channel": str(channel.pk), "content": "x"}))
    error = json.loads(await communicator.receive_from())
    assert error == {"type": "error", "code": "forbidden", "message": "Only staff can post in this channel."}
    await communicator.disconnect()


def test_refusal_keeps_keyword_construction():
    refusal = Refusal(status_code=409, code="conflict", message="Already.")
    assert (refusal.status_code, refusal.code, refusal.message) == (409, "conflict", "Already.")
