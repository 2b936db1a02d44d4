"""Every projects endpoint and method, for anonymous, stranger, staff, pending invitee, viewer, editor, owner.

Invisible projects answer 404 (existence does not leak); visible but not allowed answers 403.
Staff see everything in the admin, not through the API: to the API they are strangers.
"""

import pytest

from agentwise.access import can
from projects import services
from projects.models import AgentExecution, Project, ProjectCollaborator

from .conftest import ROLES, finished_run

pytestmark = pytest.mark.django_db

A, S, ST, P, V, E, O = ROLES  # noqa: E741 (short names, in ROLES order)


def expect(**by_role):
    """Expected status per role; `others` fills the roles not named."""
    others = by_role.pop("others", None)
    return {role: by_role.get(role, others) for role in ROLES}


HIDDEN = {"stranger": 404, "staff": 404, "pending": 404}

MATRIX = [
    # (name, method, path template, body, expected statuses)
    ("list projects", "get", "/api/projects/", None, expect(anonymous=401, others=200)),
    ("create project", "post", "/api/projects/", {"name": "Mine"}, expect(anonymous=401, others=201)),
    ("retrieve project", "get", "/api/projects/{p}/", None, expect(anonymous=401, **HIDDEN, others=200)),
    ("update project", "patch", "/api/projects/{p}/", {"description": "x"}, expect(anonymous=401, **HIDDEN, viewer=403, others=200)),
    ("delete project", "delete", "/api/projects/{p}/", None, expect(anonymous=401, **HIDDEN, viewer=403, editor=403, owner=204)),
    ("transfer project", "post", "/api/projects/{p}/transfer/", {"username": "editor"}, expect(anonymous=401, **HIDDEN, viewer=403, editor=403, owner=200)),
    ("list collaborators", "get", "/api/projects/{p}/collaborators/", None, expect(anonymous=401, **HIDDEN, others=200)),
    ("invite collaborator", "post", "/api/projects/{p}/collaborators/", {"username": "stranger", "role": "viewer"}, expect(anonymous=401, **HIDDEN, viewer=403, editor=403, owner=201)),
    ("change role", "patch", "/api/projects/{p}/collaborators/{viewer}/", {"role": "editor"}, expect(anonymous=401, **HIDDEN, viewer=403, editor=403, owner=200)),
    ("remove collaborator", "delete", "/api/projects/{p}/collaborators/{viewer}/", None, expect(anonymous=401, **HIDDEN, viewer=204, editor=403, owner=204)),
    ("accept invitation", "post", "/api/projects/{p}/collaborators/accept/", None, expect(anonymous=401, pending=200, others=404)),
    ("decline invitation", "post", "/api/projects/{p}/collaborators/decline/", None, expect(anonymous=401, pending=204, others=404)),
    ("list executions", "get", "/api/projects/{p}/executions/", None, expect(anonymous=401, **HIDDEN, others=200)),
    ("report execution", "post", "/api/projects/{p}/executions/", finished_run(), expect(anonymous=401, **HIDDEN, viewer=403, others=201)),
    ("retrieve execution", "get", "/api/projects/{p}/executions/{e}/", None, expect(anonymous=401, **HIDDEN, others=200)),
    # {e} was reported by the owner: another editor must not finish it (the tokens would be billed to the owner).
    ("finish execution", "patch", "/api/projects/{p}/executions/{e}/", {"status": "completed", "output_tokens": 5}, expect(anonymous=401, **HIDDEN, viewer=403, editor=403, owner=200)),
    # {m} was reported by the editor: its reporter and the owner may finish it.
    ("finish an editor's execution", "patch", "/api/projects/{p}/executions/{m}/", {"status": "completed"}, expect(anonymous=401, **HIDDEN, viewer=403, editor=200, owner=200)),
    ("list project budgets", "get", "/api/projects/{p}/budgets/", None, expect(anonymous=401, **HIDDEN, others=200)),
    ("set project budget", "post", "/api/projects/{p}/budgets/", {"metric": "tokens", "monthly_limit": 1000}, expect(anonymous=401, **HIDDEN, viewer=403, editor=403, owner=201)),
    ("usage", "get", "/api/usage/", None, expect(anonymous=401, others=200)),
    ("list my budgets", "get", "/api/budgets/", None, expect(anonymous=401, others=200)),
    ("set my budget", "post", "/api/budgets/", {"metric": "cost", "monthly_limit": 5_000_000}, expect(anonymous=401, others=201)),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name, method, template, body, statuses", MATRIX, ids=[row[0] for row in MATRIX])
def test_endpoint_permissions(team, as_role, role, name, method, template, body, statuses):
    project = team["project"]
    running = services.execution_record(actor=team["owner"], project=project, data={"agent_type": "codex"})[0]
    editors = services.execution_record(actor=team["editor"], project=project, data={"agent_type": "codex"})[0]
    path = template.format(p=project.pk, e=running.pk, m=editors.pk, viewer=team["viewer"].pk)
    response = getattr(as_role(role), method)(path, body, format="json")
    assert response.status_code == statuses[role], (role, response.content[:300])
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize("role, visible", [("stranger", 0), ("staff", 0), ("pending", 0), ("viewer", 1), ("editor", 1), ("owner", 1)])
def test_list_shows_only_projects_the_role_may_see(team, as_role, role, visible):
    body = as_role(role).get("/api/projects/").json()
    assert body["count"] == visible
    if visible:
        assert body["results"][0]["role"] == role


@pytest.mark.parametrize("role, status", [("stranger", 404), ("staff", 404), ("viewer", 404), ("editor", 404), ("owner", 200)])
def test_only_the_owner_restores_a_deleted_project(team, as_role, role, status):
    services.project_delete(actor=team["owner"], project=team["project"])
    assert as_role(role).post(f"/api/projects/{team['project'].pk}/restore/").status_code == status


def test_refused_writes_change_nothing(team, as_role):
    project = team["project"]
    as_role("viewer").patch(f"/api/projects/{project.pk}/", {"name": "Hijacked"}, format="json")
    as_role("editor").delete(f"/api/projects/{project.pk}/")
    as_role("stranger").post(f"/api/projects/{project.pk}/executions/", finished_run(), format="json")
    project.refresh_from_db()
    assert project.name == "Apollo" and project.status == "active"
    assert AgentExecution.objects.filter(project=project).count() == 0


def test_user_id_in_body_is_ignored_on_create(team, as_role):
    response = as_role("stranger").post("/api/projects/", {"name": "Sneaky", "user": str(team["owner"].pk), "user_id": str(team["owner"].pk)}, format="json")
    assert response.status_code == 201
    assert Project.objects.get(pk=response.json()["id"]).user == team["stranger"]


def test_staff_see_every_project_in_the_admin(team, client):
    client.force_login(team["staff"])
    team["staff"].is_superuser = True
    team["staff"].save()
    html = client.get("/admin/projects/project/").content.decode()
    assert "Apollo" in html
    assert client.get(f"/admin/projects/project/{team['project'].pk}/change/").status_code == 200


def test_transfer_makes_the_old_owner_an_editor(team, as_role):
    project = team["project"]
    response = as_role("owner").post(f"/api/projects/{project.pk}/transfer/", {"username": "editor"}, format="json")
    assert response.json()["owner"]["username"] == "editor"
    assert ProjectCollaborator.objects.get(project=project, user=team["owner"]).role == "editor"
    assert not ProjectCollaborator.objects.filter(project=project, user=team["editor"]).exists()


def test_transfer_to_a_non_member_is_a_field_error(team, as_role):
    response = as_role("owner").post(f"/api/projects/{team['project'].pk}/transfer/", {"username": "stranger"}, format="json")
    assert response.status_code == 400
    assert "user" in response.json()["error"]["fields"]


def test_malformed_ids_are_404(team, as_role):
    client = as_role("owner")
    for path in [
        "/api/projects/not-a-uuid/",
        f"/api/projects/{team['project'].pk}/executions/nope/",
        f"/api/projects/{team['project'].pk}/collaborators/nope/",
        "/api/projects/nope/collaborators/accept/",
    ]:
        response = client.get(path) if "accept" not in path else client.post(path)
        assert response.status_code in (404, 405), path
        if response.status_code == 404:
            assert response.json()["error"]["code"] == "not_found"


def test_role_checks_on_a_selected_project_need_no_extra_query(team, django_assert_num_queries):
    from projects import selectors

    project = selectors.project_get_visible(user=team["editor"], project_id=team["project"].pk)
    with django_assert_num_queries(0):
        assert can(team["editor"], "projects.change_project", project)
        assert not can(team["editor"], "projects.delete_project", project)
