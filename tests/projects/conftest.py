"""Fixtures for the projects tests: a project with one member of each role."""

import pytest
from rest_framework.test import APIClient

from projects import services
from tests.factories import StaffFactory, UserFactory

ROLES = ["anonymous", "stranger", "staff", "pending", "viewer", "editor", "owner"]


@pytest.fixture
def team(db):
    """A project whose members cover every role, plus outsiders."""
    owner = UserFactory(username="owner")
    owner.profile.subscription_tier = "pro"  # the free plan allows only 2 collaborators
    owner.profile.save()
    project = services.project_create(actor=owner, data={"name": "Apollo", "type": "cli", "tech_stack": ["Python"]})
    people = {"owner": owner, "stranger": UserFactory(username="stranger"), "staff": StaffFactory(username="staffer")}
    for role in ("viewer", "editor"):
        member = UserFactory(username=role)
        services.invitation_accept(
            actor=member, invitation=services.collaborator_invite(actor=owner, project=project, invitee=member, role=role)
        )
        people[role] = member
    people["pending"] = UserFactory(username="pending")
    services.collaborator_invite(actor=owner, project=project, invitee=people["pending"], role="editor")
    people["project"] = project
    return people


@pytest.fixture
def as_role(team):
    """Returns an API client acting as the given role ("anonymous" for no credentials)."""

    def make(role):
        client = APIClient()
        if role != "anonymous":
            client.force_authenticate(team[role])
        return client

    return make


def finished_run(**overrides):
    return {
        "agent_type": "claude-code",
        "model": "claude-sonnet-4",
        "status": "completed",
        "input_tokens": 10_000,
        "cached_input_tokens": 2_000,
        "output_tokens": 1_000,
        "tokens_saved": 4_000,
        "execution_time_ms": 1234,
        **overrides,
    }
