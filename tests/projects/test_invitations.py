"""Invitations by email reveal nothing: the same answer whether or not an account uses the address, no
username before acceptance, and an invitation to a new address waits for its sign-up. Rate limited."""

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from rest_framework.test import APIClient

from projects import services
from projects.models import ProjectCollaborator
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    user = UserFactory(username="owner")
    user.profile.subscription_tier = "pro"
    user.profile.save()
    return user


@pytest.fixture
def project(owner):
    return services.project_create(actor=owner, data={"name": "Apollo"})


@pytest.fixture
def owner_api(owner):
    client = APIClient()
    client.force_authenticate(owner)
    return client


def _shape(body: dict) -> dict:
    """The parts of an answer that do not vary by call (ids and times do)."""
    return {key: value for key, value in body.items() if key not in ("id", "invited_at")}


def test_an_email_invitation_answers_the_same_with_or_without_an_account(owner_api, project):
    UserFactory(email="known@example.com", username="secret-handle")
    known = owner_api.post(f"/api/projects/{project.pk}/collaborators/", {"email": "known@example.com"}, format="json")
    unknown = owner_api.post(f"/api/projects/{project.pk}/collaborators/", {"email": "nobody@example.com"}, format="json")
    assert known.status_code == unknown.status_code == 201
    assert _shape(known.json())["user"] is None and _shape(unknown.json())["user"] is None
    assert {**_shape(known.json()), "email": "x"} == {**_shape(unknown.json()), "email": "x"}
    assert "secret-handle" not in known.content.decode()
    listed = owner_api.get(f"/api/projects/{project.pk}/collaborators/").content.decode()
    assert "secret-handle" not in listed and "known@example.com" in listed  # shown by address until accepted


def test_inviting_an_address_again_or_a_members_address_changes_nothing_visible(owner_api, project, owner):
    member = UserFactory(email="member@example.com", username="hidden-handle")
    services.collaborator_invite(actor=owner, project=project, invitee=member, role="viewer")
    first = owner_api.post(f"/api/projects/{project.pk}/collaborators/", {"email": "member@example.com"}, format="json")
    again = owner_api.post(f"/api/projects/{project.pk}/collaborators/", {"email": "fresh@example.com"}, format="json")
    twice = owner_api.post(f"/api/projects/{project.pk}/collaborators/", {"email": "FRESH@example.com"}, format="json")
    assert first.status_code == again.status_code == twice.status_code == 201
    assert first.json()["user"] is None and "hidden-handle" not in first.content.decode()
    assert twice.json()["id"] == again.json()["id"]  # the same invitation, not a second one
    assert ProjectCollaborator.objects.filter(project=project).count() == 2


def test_an_invitation_to_a_new_address_binds_when_it_signs_up_and_confirms(owner_api, project, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        owner_api.post(f"/api/projects/{project.pk}/collaborators/", {"email": "newcomer@example.com", "role": "editor"}, format="json")
    invitation_mail = next(m for m in mail.outbox if "newcomer@example.com" in m.to)
    assert "/account/signup/?next=/projects/" in invitation_mail.body
    invitation = ProjectCollaborator.objects.get(email="newcomer@example.com")
    assert invitation.user_id is None

    newcomer = UserFactory(email="newcomer@example.com", username="newcomer", verified=False)
    address = EmailAddress.objects.create(user=newcomer, email="newcomer@example.com", verified=False, primary=True)
    invitation.refresh_from_db()
    assert invitation.user_id is None  # an unconfirmed claim binds nothing
    from allauth.account.signals import email_confirmed

    address.verified = True
    address.save()
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)
    invitation.refresh_from_db()
    assert invitation.user_id == newcomer.pk and invitation.accepted_at is None
    newcomer_api = APIClient()
    newcomer_api.force_authenticate(newcomer)
    accepted = newcomer_api.post(f"/api/projects/{project.pk}/collaborators/accept/")
    assert accepted.status_code == 200 and accepted.json()["user"]["username"] == "newcomer"
    assert newcomer_api.get(f"/api/projects/{project.pk}/").json()["role"] == "editor"


def test_the_owner_withdraws_an_email_invitation_by_its_id(owner_api, project):
    created = owner_api.post(f"/api/projects/{project.pk}/collaborators/", {"email": "later@example.com"}, format="json").json()
    assert owner_api.delete(f"/api/projects/{project.pk}/collaborators/{created['id']}/").status_code == 204
    assert not ProjectCollaborator.objects.filter(pk=created["id"]).exists()


def test_invitations_are_rate_limited_per_user(owner_api, project, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "projects.invite": "3/hour"}
    statuses = [
        owner_api.post(f"/api/projects/{project.pk}/collaborators/", {"email": f"p{i}@example.com"}, format="json").status_code
        for i in range(4)
    ]
    assert statuses == [201, 201, 201, 429]


def test_only_the_invitee_answers_an_invitation(project, owner):
    invitee, intruder = UserFactory(), UserFactory()
    invitation = services.collaborator_invite(actor=owner, project=project, invitee=invitee, role="viewer")
    from agentwise.errors import NotFound

    with pytest.raises(NotFound):
        services.invitation_accept(actor=intruder, invitation=invitation)
    with pytest.raises(NotFound):
        services.invitation_decline(actor=owner, invitation=invitation)
    services.invitation_accept(actor=invitee, invitation=invitation)


def test_budgets_follow_the_project_through_a_transfer(owner, project):
    heir = UserFactory(username="heir")
    invitation = services.collaborator_invite(actor=owner, project=project, invitee=heir, role="editor")
    services.invitation_accept(actor=heir, invitation=invitation)
    services.budget_set(actor=owner, project=project, metric="tokens", monthly_limit=1000)
    services.budget_set(actor=owner, metric="cost", monthly_limit=10)  # the owner's own account budget
    services.project_transfer(actor=owner, project=project, new_owner=heir)
    old, new = APIClient(), APIClient()
    old.force_authenticate(owner)
    new.force_authenticate(heir)
    assert [b["metric"] for b in old.get("/api/budgets/").json()["results"]] == ["cost"]  # the project's left with it
    assert [b["project"] for b in new.get("/api/budgets/").json()["results"]] == [str(project.pk)]
    # The new owner sets it again: a replacement, not a duplicate and never a 500.
    again = new.post(f"/api/projects/{project.pk}/budgets/", {"metric": "tokens", "monthly_limit": 5000}, format="json")
    assert again.status_code == 201 and again.json()["monthly_limit"] == 5000
    assert old.post(f"/api/projects/{project.pk}/budgets/", {"metric": "tokens", "monthly_limit": 1}, format="json").status_code == 403
