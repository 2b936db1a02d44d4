"""A downgrade deletes nothing: projects past the new plan's limit turn read-only (402 plan_limit_reached on
writes) until the owner is back under it, by archiving, deleting or transferring projects, or upgrading."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import profile_plan_change
from billing import limits
from projects import selectors, services
from projects.models import AgentExecution, Budget, Project, ProjectCollaborator
from tests import clock
from tests.factories import StaffFactory, UserFactory
from tests.projects.conftest import finished_run

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(clock.noon_today, tick=True)]

WRITABLE, READ_ONLY = ("P0", "P1", "P2"), ("P3", "P4")


def plan_change(owner, tier):
    """What staff do in the admin (the Stripe webhook writes the same profile field)."""
    profile_plan_change(actor=StaffFactory(), profile=owner.profile, tier=tier)


@pytest.fixture
def owner(db):
    owner = UserFactory(username="owner")
    owner.profile.subscription_tier = "pro"
    owner.profile.save()
    return owner


@pytest.fixture
def people(db):
    return {role: UserFactory(username=role) for role in ("editor", "viewer", "stranger")}


@pytest.fixture
def setup(owner, people, time_machine):
    """A Pro owner with five active projects P0 (oldest) … P4, each with a run, plus an older archived project
    and an older soft-deleted one (those must not take a place), an editor and a viewer on P4, a pending
    invitation and a running execution on P4, and a budget on P4; then the owner moves to Free (3 projects)."""
    archived = services.project_create(actor=owner, data={"name": "Old archived"})
    services.project_update(actor=owner, project=archived, data={"status": "archived"})
    deleted = services.project_create(actor=owner, data={"name": "Old deleted"})
    services.project_delete(actor=owner, project=deleted)
    projects = {}
    for index in range(5):
        time_machine.shift(timedelta(minutes=1))
        project = services.project_create(actor=owner, data={"name": f"P{index}"})
        services.execution_record(actor=owner, project=project, data=finished_run())
        projects[f"P{index}"] = project
    p4 = projects["P4"]
    for role in ("editor", "viewer"):
        invitation = services.collaborator_invite(actor=owner, project=p4, invitee=people[role], role=role)
        services.invitation_accept(actor=people[role], invitation=invitation)
    pending = UserFactory(username="pending")
    services.collaborator_invite(actor=owner, project=p4, invitee=pending, role="viewer")
    running, _ = services.execution_record(
        actor=owner, project=p4, data={"agent_type": "codex"}, idempotency_key="before-downgrade"
    )
    budget = services.budget_set(actor=owner, project=p4, metric="tokens", monthly_limit=10**9)
    before = (Project.objects.count(), AgentExecution.objects.count(), ProjectCollaborator.objects.count())
    plan_change(owner, "free")
    return {**projects, **people, "pending": pending, "archived": archived, "deleted": deleted, "running": running,
            "budget": budget, "before": before}


@pytest.fixture
def client_for(api_key_for):
    """An API client authenticated by a real API key (None: anonymous)."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user)}")
        return client

    return make


def read_only_by_name(client) -> dict[str, bool]:
    response = client.get("/api/projects/?page_size=100")
    assert response.status_code == 200
    return {row["name"]: row["read_only"] for row in response.json()["results"]}


def assert_plan_refusal(response, *, owner_view: bool = True):
    assert response.status_code == 402, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "plan_limit_reached" and error["limit"] == "max_active_projects"
    assert "read-only" in error["message"] and error["upgrade_url"] == "/pricing/"
    if owner_view:
        assert (error["allowed"], error["current"]) == (3, 5)
        assert "archive or delete" in error["message"]
    else:  # a collaborator is told why, not the owner's plan or project count
        assert "allowed" not in error and "current" not in error and "Free" not in error["message"]


def test_the_downgrade_deletes_nothing_and_the_three_oldest_active_projects_stay_writable(setup, owner, client_for):
    assert (Project.objects.count(), AgentExecution.objects.count(), ProjectCollaborator.objects.count()) == setup["before"]
    client = client_for(owner)
    assert read_only_by_name(client) == {
        "P0": False, "P1": False, "P2": False, "P3": True, "P4": True, "Old archived": False,
    }
    for name in (*WRITABLE, *READ_ONLY):
        project = setup[name]
        assert client.get(f"/api/projects/{project.pk}/").status_code == 200
        assert client.get(f"/api/projects/{project.pk}/executions/").json()["count"] >= 1
        assert client.get(f"/api/projects/{project.pk}/collaborators/").status_code == 200
        assert client.get(f"/api/projects/{project.pk}/budgets/").status_code == 200
    for name in WRITABLE:
        response = client.patch(f"/api/projects/{setup[name].pk}/", {"description": "still mine"}, format="json")
        assert response.status_code == 200 and response.json()["read_only"] is False
        assert client.post(f"/api/projects/{setup[name].pk}/executions/", finished_run(), format="json").status_code == 201


WRITES = [
    # (name, acting role, method, path template, body)
    ("update the project", "owner", "patch", "/api/projects/{p}/", {"name": "Renamed"}),
    ("re-state it active", "owner", "patch", "/api/projects/{p}/", {"status": "active"}),
    ("report an execution", "owner", "post", "/api/projects/{p}/executions/", finished_run()),
    ("invite a collaborator", "owner", "post", "/api/projects/{p}/collaborators/", {"username": "stranger", "role": "viewer"}),
    ("change a role", "owner", "patch", "/api/projects/{p}/collaborators/{viewer}/", {"role": "editor"}),
    ("set a project budget", "owner", "post", "/api/projects/{p}/budgets/", {"metric": "cost", "monthly_limit": 1000}),
    ("remove a project budget", "owner", "delete", "/api/budgets/{b}/", None),
    ("an editor reports an execution", "editor", "post", "/api/projects/{p}/executions/", finished_run()),
    ("an editor updates the project", "editor", "patch", "/api/projects/{p}/", {"description": "x"}),
    ("the invitee accepts", "pending", "post", "/api/projects/{p}/collaborators/accept/", None),
]


@pytest.mark.parametrize("name, role, method, template, body", WRITES, ids=[row[0] for row in WRITES])
def test_writes_to_a_project_past_the_limit_answer_402_and_change_nothing(setup, client_for, owner, name, role, method, template, body):
    p4 = setup["P4"]
    actor = owner if role == "owner" else setup[role]
    path = template.format(p=p4.pk, e=setup["running"].pk, viewer=setup["viewer"].pk, b=setup["budget"].pk)
    rows_before = (
        AgentExecution.objects.filter(project=p4, status="running").count(),
        list(ProjectCollaborator.objects.filter(project=p4).order_by("pk").values_list("pk", "role", "accepted_at")),
        sorted(Budget.objects.filter(project=p4).values_list("metric", "monthly_limit")),
    )
    response = getattr(client_for(actor), method)(path, body, format="json")
    assert_plan_refusal(response, owner_view=role == "owner")
    assert AgentExecution.objects.filter(project=p4).count() == 2
    assert (
        AgentExecution.objects.filter(project=p4, status="running").count(),
        list(ProjectCollaborator.objects.filter(project=p4).order_by("pk").values_list("pk", "role", "accepted_at")),
        sorted(Budget.objects.filter(project=p4).values_list("metric", "monthly_limit")),
    ) == rows_before
    p4.refresh_from_db()
    assert p4.name == "P4" and p4.description == "" and p4.status == "active"


def test_a_run_started_before_the_downgrade_can_still_be_finished_and_is_metered(setup, owner, client_for):
    p4 = setup["P4"]
    response = client_for(owner).patch(
        f"/api/projects/{p4.pk}/executions/{setup['running'].pk}/",
        {"status": "completed", "input_tokens": 100, "output_tokens": 10},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert client_for(owner).post(f"/api/projects/{p4.pk}/executions/", finished_run(), format="json").status_code == 402


def test_a_retried_report_from_before_the_downgrade_still_gets_its_first_answer(setup, owner, client_for):
    response = client_for(owner).post(
        f"/api/projects/{setup['P4'].pk}/executions/", {"agent_type": "codex"}, format="json",
        HTTP_IDEMPOTENCY_KEY="before-downgrade",
    )
    assert response.status_code == 200 and response.json()["id"] == str(setup["running"].pk)


@pytest.mark.parametrize(
    "role, read, write",
    [("anonymous", 401, 401), ("stranger", 404, 404), ("pending", 404, 404), ("viewer", 200, 403), ("editor", 200, 402)],
)
def test_other_people_get_the_answers_they_got_before(setup, client_for, role, read, write):
    """Reading stays open to whoever could read; refusals that came first (not signed in, not visible,
    a viewer) still come first."""
    client = client_for(None if role == "anonymous" else setup[role])
    p4 = setup["P4"]
    assert client.get(f"/api/projects/{p4.pk}/").status_code == read
    assert client.get(f"/api/projects/{p4.pk}/executions/").status_code == read
    assert client.patch(f"/api/projects/{p4.pk}/", {"description": "x"}, format="json").status_code == write
    if read == 200:
        assert client.get(f"/api/projects/{p4.pk}/").json()["read_only"] is True


def test_the_ways_back_under_the_limit_stay_open(setup, owner, client_for):
    client = client_for(owner)
    p3, p4 = setup["P3"], setup["P4"]
    # Removing people, leaving, and withdrawing invitations are open on a read-only project.
    assert client.delete(f"/api/projects/{p4.pk}/collaborators/{setup['viewer'].pk}/").status_code == 204
    assert client_for(setup["editor"]).delete(f"/api/projects/{p4.pk}/collaborators/{setup['editor'].pk}/").status_code == 204
    assert client_for(setup["pending"]).post(f"/api/projects/{p4.pk}/collaborators/decline/").status_code == 204

    response = client.patch(f"/api/projects/{p3.pk}/", {"status": "archived"}, format="json")
    assert response.status_code == 200 and response.json()["read_only"] is False
    assert read_only_by_name(client)["P4"] is True  # four active: still one too many
    response = client.patch(f"/api/projects/{p4.pk}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 402 and response.json()["error"]["current"] == 4

    assert client.delete(f"/api/projects/{setup['P0'].pk}/").status_code == 204
    assert read_only_by_name(client) == {"P1": False, "P2": False, "P4": False, "P3": False, "Old archived": False}
    assert client.patch(f"/api/projects/{p4.pk}/", {"name": "Renamed"}, format="json").status_code == 200
    assert client.post(f"/api/projects/{p4.pk}/executions/", finished_run(), format="json").status_code == 201
    # Re-activating an archived project still counts against the plan.
    response = client.patch(f"/api/projects/{p3.pk}/", {"status": "active"}, format="json")
    assert response.status_code == 402 and response.json()["error"]["code"] == "plan_limit_reached"


def test_transferring_a_read_only_project_is_open_and_its_new_owners_plan_decides(setup, owner, client_for):
    p3, p4, editor = setup["P3"], setup["P4"], setup["editor"]
    response = client_for(owner).post(f"/api/projects/{p4.pk}/transfer/", {"username": "editor"}, format="json")
    assert response.status_code == 200 and response.json()["read_only"] is False
    assert client_for(editor).patch(f"/api/projects/{p4.pk}/", {"name": "Mine now"}, format="json").status_code == 200
    # The old owner, now an editor of P4, has four active projects left: P3 is still read-only.
    assert read_only_by_name(client_for(owner)) == {
        "P0": False, "P1": False, "P2": False, "P3": True, "Mine now": False, "Old archived": False,
    }
    assert client_for(owner).patch(f"/api/projects/{p3.pk}/", {"name": "x"}, format="json").status_code == 402


def test_an_upgrade_makes_every_project_writable_again(setup, owner, client_for):
    plan_change(owner, "pro")
    client = client_for(owner)
    assert not any(read_only_by_name(client).values())
    for name in READ_ONLY:
        assert client.patch(f"/api/projects/{setup[name].pk}/", {"name": f"{name}!"}, format="json").status_code == 200
    response = client.patch(f"/api/projects/{setup['P4'].pk}/executions/{setup['running'].pk}/", {"status": "completed"}, format="json")
    assert response.status_code == 200


def test_staff_moderating_from_the_admin_are_not_held_by_the_owners_plan(setup):
    project = Project.objects.get(pk=setup["P4"].pk)
    staff = StaffFactory()
    services.project_update(actor=staff, project=project, data={"name": "Renamed by staff"}, as_moderator=True)
    assert Project.objects.get(pk=project.pk).name == "Renamed by staff"


def test_the_project_page_says_when_it_is_read_only(setup, owner, client):
    client.force_login(owner)
    assert "This project is read-only" in client.get(f"/projects/{setup['P4'].pk}/").content.decode()
    assert "This project is read-only" not in client.get(f"/projects/{setup['P0'].pk}/").content.decode()
    client.force_login(setup["editor"])
    page = client.get(f"/projects/{setup['P4'].pk}/").content.decode()
    assert "This project is read-only" in page and "its owner has more active projects" in page
    # A refused write through a page answers 402 with the message, not a 500.
    client.force_login(owner)
    response = client.post(f"/projects/{setup['P4'].pk}/settings/", {"name": "Renamed"})
    assert response.status_code == 402


def test_the_check_costs_at_most_one_query_and_none_for_a_listed_project(setup, owner, django_assert_num_queries):
    limits.plan_limits_for(owner)  # the plan's limits are cached for a minute
    listed = selectors.project_get_visible(user=owner, project_id=setup["P2"].pk)
    over = selectors.project_get_visible(user=owner, project_id=setup["P4"].pk)
    with django_assert_num_queries(0):
        limits.require_project_writable(listed, actor=owner)
        assert limits.project_writable(listed) and not limits.project_writable(over)
    loaded = Project.objects.select_related("user__profile").get(pk=setup["P2"].pk)
    with django_assert_num_queries(1):
        limits.require_project_writable(loaded, actor=owner)


def test_the_project_list_costs_the_same_queries_for_more_read_only_rows(setup, owner, client_for):
    client = client_for(owner)
    client.get("/api/projects/")  # warms the plan limits cache

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/projects/?page_size=100").status_code == 200
        return len(queries)

    few = count_queries()
    plan_change(owner, "pro")
    for index in range(5, 10):
        services.project_create(actor=owner, data={"name": f"P{index}"})
    plan_change(owner, "free")
    assert sum(read_only_by_name(client).values()) == 7
    assert count_queries() == few


def test_the_list_places_only_the_projects_of_owners_over_their_limit(setup, owner, people, client_for):
    """The list no longer counts each row's place among its owner's projects in its own SQL (an owner with
    thousands of projects paid thousands of index entries per row): one query counts the page's owners'
    active projects, and a second places projects only when an owner on the page is over the limit."""
    editor = people["editor"]
    for index in range(2):
        services.project_create(actor=editor, data={"name": f"Editor's {index}"})  # Free, within the limit
    client = client_for(editor)

    def list_queries(path="/api/projects/?page_size=100"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200
        return {row["name"]: row["read_only"] for row in response.json()["results"]}, len(queries)

    client.get("/api/projects/")  # warms the plan limits cache
    rows, over_on_page = list_queries()
    assert rows == {"Editor's 0": False, "Editor's 1": False, "P4": True}  # the owner's P4, shared with the editor
    rows, within_only = list_queries("/api/projects/?page_size=100&search=Editor")
    assert rows == {"Editor's 0": False, "Editor's 1": False}
    assert over_on_page == within_only + 1


def test_read_only_is_the_same_on_every_page_of_a_paginated_list(setup, owner, client_for):
    client = client_for(owner)
    seen = {}
    for page in (1, 2, 3):
        response = client.get(f"/api/projects/?page_size=2&page={page}")
        assert response.status_code == 200
        seen.update({row["name"]: row["read_only"] for row in response.json()["results"]})
    assert seen == {"P0": False, "P1": False, "P2": False, "P3": True, "P4": True, "Old archived": False}
