"""Audit rows written by the services: API keys, account access, plans, projects, collaborators and
channel membership. Each action writes one row with one INSERT, in the action's transaction."""

import pytest
from django.db import transaction

from accounts import services as account_services
from accounts.models import ApiKey
from community import services as community_services
from community.models import Channel
from moderation.models import AuditLog
from projects import services as project_services
from projects.models import ProjectCollaborator
from tests.factories import StaffFactory, UserFactory, sign_in

from .audit_support import one_audit_row

pytestmark = pytest.mark.django_db

BROWSER = {"REMOTE_ADDR": "198.51.100.30", "HTTP_USER_AGENT": "Mozilla/5.0 (audit test)"}


# --- API keys ---------------------------------------------------------------------------------------


def test_api_key_created_from_the_settings_page_is_recorded_without_the_secret(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    sign_in(client, user)
    with one_audit_row("api_key.create") as written, django_capture_on_commit_callbacks(execute=True):
        response = client.post("/account/api-keys/", {"name": "laptop"}, **BROWSER)
    assert response.status_code == 200
    api_key = ApiKey.objects.get(user=user)
    row = written.row
    assert (row.actor, row.resource_type, row.resource_id) == (user, "accounts.apikey", str(api_key.pk))
    assert row.ip_address == "198.51.100.30"
    assert row.metadata == {"name": "laptop", "prefix": api_key.prefix, "expires_at": None, "via": "session"}
    secret = response.context["new_key"]
    assert secret and secret not in str(row.metadata) and api_key.key_hash not in str(row.metadata)


def test_api_key_revoked_by_its_owner_is_recorded_once(client):
    user = UserFactory()
    api_key, _ = account_services.api_key_create(user=user, credential=_console(), name="ci")
    client.force_login(user)
    with one_audit_row("api_key.revoke") as written:
        client.post(f"/account/api-keys/{api_key.pk}/revoke/", **BROWSER)
    assert (written.row.actor, written.row.resource_id) == (user, str(api_key.pk))
    assert written.row.metadata == {"name": "ci", "prefix": api_key.prefix, "owner_id": str(user.pk)}
    account_services.api_key_revoke(actor=user, api_key=api_key)  # again: nothing changes, nothing logged
    assert AuditLog.objects.filter(action="api_key.revoke").count() == 1


def _console():
    from accounts.credentials import Credential

    return Credential.console()


# --- Account access and plans -------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    admin_user = StaffFactory(is_superuser=True)
    client.force_login(admin_user)
    client.admin_user = admin_user
    return client


def test_deactivation_from_the_admin_action_is_recorded(admin_client, django_capture_on_commit_callbacks):
    target = UserFactory()
    with one_audit_row("user.access_update") as written, django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/accounts/user/", {"action": "deactivate", "_selected_action": [str(target.pk)]}, **BROWSER)
    row = written.row
    assert (row.actor, row.resource_type, row.resource_id) == (admin_client.admin_user, "accounts.user", str(target.pk))
    assert row.metadata == {"is_active": {"old": True, "new": False}}
    assert row.ip_address == "198.51.100.30"  # from the current request: the service was not passed it


def test_staff_grant_is_recorded_and_a_no_op_is_not(staff_user):
    target = UserFactory()
    with one_audit_row("user.access_update") as written:
        account_services.user_access_update(actor=staff_user, user=target, is_staff=True, is_active=True)
    assert written.row.metadata == {"is_staff": {"old": False, "new": True}}
    account_services.user_access_update(actor=staff_user, user=target, is_staff=True)
    assert AuditLog.objects.filter(action="user.access_update").count() == 1


def _profile_form(profile, **changes):
    data = {field: getattr(profile, field) for field in (
        "full_name", "avatar_url", "bio", "company", "location", "website", "github_username", "twitter_handle",
        "subscription_tier", "subscription_status", "stripe_customer_id")}
    data.update(user=profile.user_id, metadata="{}", **changes)
    return data


def test_plan_change_in_the_profile_admin_records_old_and_new(admin_client):
    target = UserFactory()
    with one_audit_row("plan.change") as written:
        response = admin_client.post(f"/admin/accounts/profile/{target.profile.pk}/change/",
                                     _profile_form(target.profile, subscription_tier="pro"), **BROWSER)
    assert response.status_code == 302, response.content.decode()[:2000]
    target.profile.refresh_from_db()
    assert target.profile.subscription_tier == "pro"
    row = written.row
    assert (row.actor, row.resource_type, row.resource_id) == (admin_client.admin_user, "accounts.profile", str(target.profile.pk))
    assert row.metadata == {"user_id": str(target.pk), "old": "free", "new": "pro"}
    # The admin's own change row names the field too.
    assert "Subscription tier" in AuditLog.objects.get(action="admin.change").metadata["changed_fields"]


def test_plan_change_in_the_user_admins_profile_inline_records_old_and_new(admin_client):
    target = UserFactory(username="planned", email="planned@example.com")
    profile = target.profile
    data = {
        "email": target.email, "username": target.username, "is_superuser": "", "groups": [], "user_permissions": [],
        "profile-TOTAL_FORMS": "1", "profile-INITIAL_FORMS": "1", "profile-MIN_NUM_FORMS": "0", "profile-MAX_NUM_FORMS": "1",
        "profile-0-id": str(profile.pk), "profile-0-user": str(target.pk),
        **{f"profile-0-{key}": value for key, value in _profile_form(profile, subscription_tier="enterprise").items()
           if key != "user"},
    }
    with one_audit_row("plan.change") as written:
        response = admin_client.post(f"/admin/accounts/user/{target.pk}/change/", data, **BROWSER)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert written.row.metadata == {"user_id": str(target.pk), "old": "free", "new": "enterprise"}
    profile.refresh_from_db()
    assert profile.subscription_tier == "enterprise"


def test_members_cannot_change_plans(user):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(PermissionDenied):
        account_services.profile_plan_change(actor=user, profile=user.profile, tier="enterprise")
    staff = StaffFactory()
    with pytest.raises(ValidationError):
        account_services.profile_plan_change(actor=staff, profile=user.profile, tier="platinum")
    account_services.profile_plan_change(actor=staff, profile=user.profile, tier="free")  # unchanged: no row
    assert not AuditLog.objects.filter(action="plan.change").exists()


# --- Projects and collaborators -----------------------------------------------------------------------


@pytest.fixture
def project(db):
    owner = UserFactory(username="owner")
    owner.profile.subscription_tier = "pro"
    owner.profile.save()
    return project_services.project_create(actor=owner, data={"name": "Apollo", "type": "cli", "tech_stack": ["Python"]})


def _member(project, role="editor", accept=True):
    member = UserFactory()
    invitation = project_services.collaborator_invite(actor=project.user, project=project, invitee=member, role=role)
    if accept:
        project_services.invitation_accept(actor=member, invitation=invitation)
    return member, invitation


def test_project_delete_and_restore_are_recorded(project):
    owner = project.user
    with one_audit_row("project.delete") as deleted:
        project_services.project_delete(actor=owner, project=project)
    assert (deleted.row.actor, deleted.row.resource_type, deleted.row.resource_id) == (owner, "projects.project", str(project.pk))
    assert deleted.row.metadata == {"name": "Apollo", "owner_id": str(owner.pk), "as_moderator": False}
    with one_audit_row("project.restore") as restored:
        project_services.project_restore(actor=owner, project=project)
    assert restored.row.metadata["status"] == "active"


def test_project_transfer_is_recorded(project):
    owner = project.user
    new_owner, _ = _member(project)
    with one_audit_row("project.transfer") as written:
        project_services.project_transfer(actor=owner, project=project, new_owner=new_owner)
    assert written.row.metadata == {"old_owner_id": str(owner.pk), "new_owner_id": str(new_owner.pk), "as_moderator": False}


def test_collaborator_invite_accept_role_change_and_remove_are_recorded(project):
    owner, member = project.user, UserFactory()
    with one_audit_row("collaborator.invite") as invited:
        invitation = project_services.collaborator_invite(actor=owner, project=project, invitee=member, role="viewer")
    assert (invited.row.actor, invited.row.resource_type, invited.row.resource_id) == (
        owner, "projects.projectcollaborator", str(invitation.pk))
    assert invited.row.metadata == {"project_id": str(project.pk), "invitee_id": str(member.pk), "email": "", "role": "viewer"}
    with one_audit_row("collaborator.accept") as accepted:
        project_services.invitation_accept(actor=member, invitation=invitation)
    assert accepted.row.actor == member
    with one_audit_row("collaborator.role_change") as changed:
        project_services.collaborator_update(actor=owner, collaborator=invitation, role="editor")
    assert (changed.row.metadata["old"], changed.row.metadata["new"]) == ("viewer", "editor")
    invitation_id = str(invitation.pk)
    with one_audit_row("collaborator.remove") as removed:
        project_services.collaborator_remove(actor=owner, collaborator=invitation)
    assert removed.row.resource_id == invitation_id and removed.row.metadata["user_id"] == str(member.pk)
    assert not ProjectCollaborator.objects.filter(pk=invitation.pk).exists()


def test_invitation_decline_is_recorded(project):
    member, invitation = _member(project, accept=False)
    invitation_id = str(invitation.pk)
    with one_audit_row("collaborator.decline") as written:
        project_services.invitation_decline(actor=member, invitation=invitation)
    assert (written.row.actor, written.row.resource_id) == (member, invitation_id)


def test_the_audit_row_rolls_back_with_the_action(project):
    with pytest.raises(RuntimeError), transaction.atomic():
        project_services.project_delete(actor=project.user, project=project)
        assert AuditLog.objects.filter(action="project.delete").count() == 1
        raise RuntimeError("something later in the same transaction failed")
    project.refresh_from_db()
    assert project.status == "active"
    assert not AuditLog.objects.filter(action="project.delete").exists()


def test_a_refused_action_writes_no_row(project):
    from agentwise.errors import NotFound

    with pytest.raises(NotFound):
        project_services.project_delete(actor=UserFactory(), project=project)
    assert not AuditLog.objects.filter(action="project.delete").exists()


# --- Channel membership -------------------------------------------------------------------------------


def test_channel_member_add_and_remove_are_recorded(staff_user):
    channel = Channel.objects.create(name="staff-room", category="Staff", is_private=True)
    member = UserFactory()
    with one_audit_row("channel_member.add") as added:
        community_services.channel_member_add(actor=staff_user, channel=channel, user=member)
    assert (added.row.actor, added.row.resource_type, added.row.resource_id) == (staff_user, "community.channel", str(channel.pk))
    assert added.row.metadata == {"user_id": str(member.pk)}
    community_services.channel_member_add(actor=staff_user, channel=channel, user=member)  # already a member
    assert AuditLog.objects.filter(action="channel_member.add").count() == 1
    with one_audit_row("channel_member.remove") as removed:
        community_services.channel_member_remove(actor=staff_user, channel=channel, user=member)
    assert removed.row.metadata == {"user_id": str(member.pk)}
