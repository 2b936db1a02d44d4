"""Project pages: login, visibility (404), roles (403), forms calling services, charts, caching, query counts."""

import pytest

from projects import dashboards, services
from projects.models import Budget, Project, ProjectCollaborator
from tests import clock

from .conftest import finished_run

# For pages showing this day's and this month's usage: from noon, what was recorded is read back in the same period.
in_one_period = pytest.mark.time_machine(clock.noon_today, tick=True)

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def test_pages_require_login(client, team):
    pid = team["project"].pk
    for url in ["/projects/", f"/projects/{pid}/", f"/projects/{pid}/settings/", f"/projects/{pid}/invitation/", "/account/usage/"]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/account/login/"), url


@pytest.mark.parametrize("role, detail, settings_page", [
    ("stranger", 404, 404), ("staff", 404, 404), ("pending", 404, 404),
    ("viewer", 200, 403), ("editor", 200, 200), ("owner", 200, 200),
])
def test_visibility_and_roles(client, team, role, detail, settings_page):
    login(client, team[role])
    pid = team["project"].pk
    assert client.get(f"/projects/{pid}/").status_code == detail
    assert client.get(f"/projects/{pid}/settings/").status_code == settings_page


def test_viewer_sees_no_edit_controls_and_cannot_post(client, team):
    login(client, team["viewer"])
    pid = team["project"].pk
    html = client.get(f"/projects/{pid}/").content.decode()
    assert "Settings</a>" not in html and "Invite</button>" not in html and "Leave project" in html
    assert client.post(f"/projects/{pid}/settings/", {"name": "Hijacked"}).status_code == 403
    assert client.post(f"/projects/{pid}/status/", {"action": "delete"}).status_code == 403
    team["project"].refresh_from_db()
    assert team["project"].name == "Apollo" and team["project"].status == "active"


def test_editor_edits_but_cannot_delete(client, team):
    login(client, team["editor"])
    pid = team["project"].pk
    response = client.post(f"/projects/{pid}/settings/", {"name": "Apollo 2", "tech_stack": "Python, Go, Python"})
    assert response.status_code == 302
    project = Project.objects.get(pk=pid)
    assert project.name == "Apollo 2" and project.tech_stack == ["Python", "Go"]
    assert client.post(f"/projects/{pid}/status/", {"action": "delete"}).status_code == 403


def test_owner_invites_deletes_and_restores(client, team, django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    login(client, team["owner"])
    pid = team["project"].pk
    newcomer = UserFactory(email="new@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/projects/{pid}/collaborators/", {"who": "NEW@example.com", "role": "editor"})
    assert ProjectCollaborator.objects.filter(project_id=pid, user=newcomer, role="editor").exists()
    client.post(f"/projects/{pid}/status/", {"action": "delete"})
    assert Project.objects.get(pk=pid).status == "deleted"
    assert "Apollo" in client.get("/projects/?status=deleted").content.decode()
    client.post(f"/projects/{pid}/restore/")
    assert Project.objects.get(pk=pid).status == "active"


def test_invitation_page_accept_and_decline(client, team):
    pid = team["project"].pk
    login(client, team["pending"])
    assert "Join “Apollo”?" in client.get(f"/projects/{pid}/invitation/").content.decode()
    response = client.post(f"/projects/{pid}/invitation/", {"decision": "accept"})
    assert response.url == f"/projects/{pid}/"
    assert client.get(f"/projects/{pid}/").status_code == 200
    assert client.get(f"/projects/{pid}/invitation/").status_code == 404  # nothing pending any more


def test_declining_from_the_list_removes_the_invitation(client, team):
    login(client, team["pending"])
    pid = team["project"].pk
    assert "Invitations" in client.get("/projects/").content.decode()
    client.post(f"/projects/{pid}/invitation/", {"decision": "decline"})
    assert not ProjectCollaborator.objects.filter(project_id=pid, user=team["pending"]).exists()


def test_fourth_active_project_shows_the_plan_limit(client, user):
    login(client, user)
    for index in range(3):
        client.post("/projects/", {"name": f"P{index}"})
    response = client.post("/projects/", {"name": "Fourth"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Free plan allows 3 active projects" in html and "/pricing/" in html
    assert Project.objects.filter(user=user).count() == 3


@in_one_period
def test_charts_render_and_escape_user_text(client, team):
    project = team["project"]
    services.execution_record(actor=team["owner"], project=project, data=finished_run(agent_type="<script>x</script>"))
    services.budget_set(actor=team["owner"], project=project, metric="tokens", monthly_limit=100_000)
    login(client, team["owner"])
    html = client.get(f"/projects/{project.pk}/").content.decode()
    assert html.count("<svg") >= 2  # tokens chart and the budget burn-down
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "100% of 1" in html  # success rate row


def test_budget_form_converts_dollars_to_micros(client, team):
    login(client, team["owner"])
    pid = team["project"].pk
    client.post(f"/projects/{pid}/budgets/", {"metric": "cost", "monthly_limit": "12.50", "warn_percent": "75", "hard_cap": "on"})
    budget = Budget.objects.get(project_id=pid)
    assert (budget.monthly_limit, str(budget.warn_ratio), budget.hard_cap) == (12_500_000, "0.750", True)


@in_one_period
def test_usage_page_and_cache_invalidated_by_new_executions(client, team, django_capture_on_commit_callbacks):
    owner, project = team["owner"], team["project"]
    login(client, owner)
    services.execution_record(actor=owner, project=project, data=finished_run())
    first = client.get("/account/usage/").content.decode()
    assert "Executions this month" in first and "11,000" in first
    assert dashboards.user_usage_summary(owner)["usage"]["executions"] == 1
    with django_capture_on_commit_callbacks(execute=True):  # the cache version is bumped after commit
        services.execution_record(actor=owner, project=project, data=finished_run())
    assert dashboards.user_usage_summary(owner)["usage"]["executions"] == 2
    assert "22,000" in client.get("/account/usage/").content.decode()


def test_list_page_query_count_is_constant(client, django_assert_max_num_queries):
    from tests.factories import UserFactory

    user = UserFactory()
    user.profile.subscription_tier = "enterprise"
    user.profile.save()
    login(client, user)
    for total in (1, 30):
        while Project.objects.filter(user=user).count() < total:
            services.project_create(actor=user, data={"name": "P", "tech_stack": ["Python", "Go"]})
        with django_assert_max_num_queries(14):
            assert client.get("/projects/").status_code == 200
