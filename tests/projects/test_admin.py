"""The projects admin changes domain state only through the services: a project deleted there has its
``deleted_at`` (so it is restorable, then purged on time), a transfer moves budgets, roles and removals
go through the collaborator services, and status and owner are not editable fields."""

import pytest
from django.test import Client

from projects import services
from projects.models import Budget, Project, ProjectCollaborator
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def project(team):
    return team["project"]


def act(admin, action, project, **extra):
    return admin.post("/admin/projects/project/", {"action": action, "_selected_action": [str(project.pk)], **extra})


def test_deleting_in_the_admin_is_the_restorable_soft_delete(admin, project):
    act(admin, "soft_delete", project)
    project.refresh_from_db()
    assert project.status == "deleted" and project.deleted_at is not None and project.status_before_delete == "active"
    act(admin, "restore", project)
    project.refresh_from_db()
    assert project.status == "active" and project.deleted_at is None


def test_archive_and_reactivate_go_through_the_plan_check(admin, project):
    act(admin, "archive", project)
    project.refresh_from_db()
    assert project.status == "archived"
    act(admin, "reactivate", project)
    project.refresh_from_db()
    assert project.status == "active"


def test_status_and_owner_are_read_only_in_the_form(admin, project):
    page = admin.get(f"/admin/projects/project/{project.pk}/change/").content.decode()
    assert 'name="status"' not in page and 'name="user"' not in page
    assert admin.get("/admin/projects/project/add/").status_code == 403
    response = admin.post(f"/admin/projects/project/{project.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403 and Project.objects.filter(pk=project.pk).exists()


def test_transfer_in_the_admin_moves_the_project_and_its_budgets(admin, team, project):
    services.budget_set(actor=team["owner"], project=project, metric="tokens", monthly_limit=1000)
    form = act(admin, "transfer", project)
    assert form.status_code == 200 and "New owner" in form.content.decode()
    done = act(admin, "transfer", project, new_owner=str(team["editor"].pk))
    assert done.status_code == 302
    project.refresh_from_db()
    assert project.user == team["editor"]
    assert Budget.objects.get(project=project).user == team["editor"]
    assert ProjectCollaborator.objects.get(project=project, user=team["owner"]).role == "editor"


def test_collaborator_inline_changes_roles_and_removes_through_the_services(admin, team, project):
    rows = list(ProjectCollaborator.objects.filter(project=project).order_by("invited_at"))
    data = {
        "name": project.name, "description": project.description, "type": project.type,
        "tech_stack": '["Python"]', "github_repo": "", "thumbnail_url": "", "settings": "{}", "stats": "{}",
        "collaborators-TOTAL_FORMS": str(len(rows)), "collaborators-INITIAL_FORMS": str(len(rows)),
        "collaborators-MIN_NUM_FORMS": "0", "collaborators-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"collaborators-{index}-id": str(row.pk), f"collaborators-{index}-project": str(project.pk),
                     f"collaborators-{index}-role": row.role})
        if row.user == team["viewer"]:
            data[f"collaborators-{index}-role"] = "editor"
        if row.user == team["pending"]:
            data[f"collaborators-{index}-DELETE"] = "on"
    response = admin.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ProjectCollaborator.objects.get(project=project, user=team["viewer"]).role == "editor"
    assert not ProjectCollaborator.objects.filter(project=project, user=team["pending"]).exists()


def test_members_cannot_use_moderation(team, project):
    from agentwise.errors import Forbidden

    with pytest.raises(Forbidden):
        services.project_delete(actor=team["owner"], project=project, as_moderator=True)
