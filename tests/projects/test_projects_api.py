"""Projects: create, validate, list/filter, archive, soft delete and restore, last access, plan limits."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from projects import metering, services
from projects.models import Project, ProjectCollaborator
from projects.tasks import purge_deleted_projects_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def make(user, name="P", **data):
    return services.project_create(actor=user, data={"name": name, **data})


@pytest.mark.parametrize(
    "instant",
    [datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)],
    ids=["first-of-month", "last-second-of-month"],
)
def test_create_returns_the_project_and_meters_it(owner_client, user, time_machine, instant):
    """Metered in the day and the month counter; on the 1st both start today, so a counter is found by its whole period."""
    time_machine.move_to(instant, tick=False)
    response = owner_client.post(
        "/api/projects/",
        {"name": "Apollo", "type": "web", "tech_stack": ["Django", "HTMX"], "github_repo": "https://github.com/a/b"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["owner"]["username"] == user.username and body["role"] == "owner" and body["status"] == "active"
    assert body["tech_stack"] == ["Django", "HTMX"]
    assert metering.usage_value(user_id=user.pk, metric="projects_created", period="day") == 1
    assert metering.usage_value(user_id=user.pk, metric="projects_created", period="month") == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "tech_stack": "Python"}, "tech_stack"),
        ({"name": "x", "tech_stack": ["x" * 41]}, "tech_stack"),
        ({"name": "x", "tech_stack": ["a"] * 31}, "tech_stack"),
        ({"name": "x", "tech_stack": [1]}, "tech_stack"),
        ({"name": "x", "tech_stack": ["  "]}, "tech_stack"),
        ({"name": "   "}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "x", "github_repo": "not a url"}, "github_repo"),
        ({"name": "x", "github_repo": "javascript:alert(1)//github.com"}, "github_repo"),
        ({"name": "x", "github_repo": "https://github.com/a b"}, "github_repo"),
        ({"name": "x", "settings": []}, "settings"),
        ({"name": "x", "settings": {"a\x00": 1}}, "settings"),  # PostgreSQL's jsonb cannot hold NUL
        ({"name": "x", "stats": {"a": [{"b": "\x00"}]}}, "stats"),
        ({"name": "x" * 256}, "name"),
    ],
)
def test_invalid_projects_get_field_errors(owner_client, payload, field):
    response = owner_client.post("/api/projects/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Project.objects.count() == 0


def test_a_lone_surrogate_in_a_json_object_is_a_400_not_a_database_error(owner_client):
    body = '{"name": "x", "settings": {"k": "\\udfff"}}'  # valid JSON text, not valid Unicode
    response = owner_client.post("/api/projects/", body, content_type="application/json")
    assert response.status_code == 400 and "settings" in response.json()["error"]["fields"]
    assert Project.objects.count() == 0


def test_repeated_tech_tags_are_dropped_not_refused(owner_client):
    response = owner_client.post("/api/projects/", {"name": "x", "tech_stack": ["Go", " go ", "Rust", "GO"]}, format="json")
    assert response.status_code == 201
    assert response.json()["tech_stack"] == ["Go", "Rust"]


def test_list_is_newest_updated_first_and_filters(owner_client, user):
    old = make(user, "Old compiler", type="cli", tech_stack=["Rust"])
    web = make(user, "Web shop", type="web", tech_stack=["Django", "Python"])
    archived = make(user, "Archive me", type="web")
    services.project_update(actor=user, project=archived, data={"status": "archived"})
    Project.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=3))

    def names(**params):
        return [p["name"] for p in owner_client.get("/api/projects/", params).json()["results"]]

    assert names() == ["Archive me", "Web shop", "Old compiler"]
    assert names(status="archived") == ["Archive me"]
    assert names(status="active") == ["Web shop", "Old compiler"]
    assert names(type="WEB") == ["Archive me", "Web shop"]
    assert names(tech="python") == ["Web shop"]
    assert names(search="compil") == ["Old compiler"]
    assert owner_client.get("/api/projects/", {"status": "nope"}).status_code == 400
    assert web.pk


def test_soft_delete_hides_everywhere_then_restore_and_purge(owner_client, user):
    project = make(user, "Temp")
    services.execution_record(actor=user, project=project, data={"agent_type": "codex"})
    assert owner_client.delete(f"/api/projects/{project.pk}/").status_code == 204
    assert owner_client.get("/api/projects/").json()["count"] == 0
    assert owner_client.get(f"/api/projects/{project.pk}/").status_code == 404
    assert owner_client.get(f"/api/projects/{project.pk}/executions/").status_code == 404
    deleted = owner_client.get("/api/projects/", {"status": "deleted"}).json()
    assert [p["name"] for p in deleted["results"]] == ["Temp"]

    restored = owner_client.post(f"/api/projects/{project.pk}/restore/")
    assert restored.status_code == 200 and restored.json()["status"] == "active"

    services.project_delete(actor=user, project=project)
    Project.objects.filter(pk=project.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    assert owner_client.post(f"/api/projects/{project.pk}/restore/").status_code == 404
    assert purge_deleted_projects_task.delay().get() == 3  # project, its execution and project usage row
    assert not Project.objects.filter(pk=project.pk).exists()


def test_purge_keeps_recently_deleted_projects(user):
    project = make(user)
    services.project_delete(actor=user, project=project)
    assert services.project_purge_expired() == 0
    assert services.project_purge_expired(now=timezone.now() + timedelta(days=31)) >= 1


def test_archived_project_restores_to_archived(owner_client, user):
    project = make(user)
    services.project_update(actor=user, project=project, data={"status": "archived"})
    services.project_delete(actor=user, project=project)
    assert owner_client.post(f"/api/projects/{project.pk}/restore/").json()["status"] == "archived"


def test_status_deleted_cannot_be_set_by_patch(owner_client, user):
    project = make(user)
    response = owner_client.patch(f"/api/projects/{project.pk}/", {"status": "deleted"}, format="json")
    assert response.status_code == 400


def test_last_accessed_is_written_at_most_once_a_minute(owner_client, user, django_assert_num_queries):
    project = make(user)
    Project.objects.filter(pk=project.pk).update(last_accessed_at=timezone.now() - timedelta(hours=1))
    owner_client.get(f"/api/projects/{project.pk}/")
    first = Project.objects.get(pk=project.pk).last_accessed_at
    assert first > timezone.now() - timedelta(seconds=5)
    owner_client.get(f"/api/projects/{project.pk}/")
    assert Project.objects.get(pk=project.pk).last_accessed_at == first


def test_free_plan_active_project_limit_is_402_and_writes_nothing(owner_client, user):
    for index in range(3):
        make(user, f"P{index}")
    response = owner_client.post("/api/projects/", {"name": "Fourth"}, format="json")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "plan_limit_reached"
    assert error["limit"] == "max_active_projects"
    assert error["allowed"] == 3 and error["current"] == 3
    assert error["upgrade_url"] == "/pricing/"
    assert Project.objects.filter(user=user).count() == 3
    # Archived projects do not count; re-activating one counts again.
    first = Project.objects.filter(user=user).first()
    services.project_update(actor=user, project=first, data={"status": "archived"})
    assert owner_client.post("/api/projects/", {"name": "Fourth"}, format="json").status_code == 201
    response = owner_client.patch(f"/api/projects/{first.pk}/", {"status": "active"}, format="json")
    assert response.status_code == 402


def test_pro_plan_allows_more(owner_client, user):
    user.profile.subscription_tier = "pro"
    user.profile.save()
    for index in range(4):
        assert owner_client.post("/api/projects/", {"name": f"P{index}"}, format="json").status_code == 201


def test_invite_by_email_sends_accept_link_and_reinvite_is_400(owner_client, user, django_capture_on_commit_callbacks):
    project = make(user)
    invitee = UserFactory(email="friend@example.com")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/api/projects/{project.pk}/collaborators/", {"email": "FRIEND@example.com", "role": "editor"}, format="json"
        )
    assert response.status_code == 201 and response.json()["state"] == "pending"
    assert mail.outbox[0].to == ["friend@example.com"]
    assert f"/projects/{project.pk}/invitation/" in mail.outbox[0].body
    again = owner_client.post(f"/api/projects/{project.pk}/collaborators/", {"username": invitee.username}, format="json")
    assert again.status_code == 400
    assert "already invited" in again.json()["error"]["fields"]["user"][0]
    assert ProjectCollaborator.objects.filter(project=project).count() == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"username": "ghost"}, "username"),
        ({"email": "not-an-address"}, "email"),  # an unknown *address* is an invitation to sign up (see below)
        ({}, "username"),
        ({"username": "a", "email": "b@example.com"}, "username"),
        ({"username": "owner-self"}, "user"),
        ({"username": "x", "role": "owner"}, "role"),
    ],
)
def test_bad_invitations_are_field_errors(owner_client, user, payload, field):
    user.username = "owner-self"
    user.save()
    UserFactory(username="x")
    project = make(user)
    response = owner_client.post(f"/api/projects/{project.pk}/collaborators/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_collaborator_limit_is_402(owner_client, user):
    project = make(user)
    for _ in range(2):
        services.collaborator_invite(actor=user, project=project, invitee=UserFactory(), role="viewer")
    response = owner_client.post(f"/api/projects/{project.pk}/collaborators/", {"username": UserFactory().username}, format="json")
    assert response.status_code == 402
    assert response.json()["error"]["limit"] == "max_collaborators_per_project"


def test_declined_invitation_can_be_sent_again(user):
    project = make(user)
    friend = UserFactory()
    invitation = services.collaborator_invite(actor=user, project=project, invitee=friend, role="viewer")
    client = APIClient()
    client.force_authenticate(friend)
    assert client.post(f"/api/projects/{project.pk}/collaborators/decline/").status_code == 204
    assert not ProjectCollaborator.objects.filter(pk=invitation.pk).exists()
    services.collaborator_invite(actor=user, project=project, invitee=friend, role="viewer")
