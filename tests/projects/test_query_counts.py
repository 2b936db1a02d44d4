"""Every list endpoint runs the same number of queries for 1 row and for 100 rows."""

import pytest
from rest_framework.test import APIClient

from projects import services
from tests.factories import UserFactory

from .conftest import finished_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich_user(user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "projects.invite": "1000/hour"}  # it invites 100 people
    user.profile.subscription_tier = "enterprise"
    user.profile.save()
    return user


def _fill(user, rows):
    first = services.project_create(actor=user, data={"name": "P0", "tech_stack": ["Python"]})
    for index in range(1, rows):
        services.project_create(actor=user, data={"name": f"P{index}", "tech_stack": ["Python"]})
    for _ in range(rows):
        services.execution_record(actor=user, project=first, data=finished_run())
    for _ in range(rows):
        invitee = UserFactory()
        invitation = services.collaborator_invite(actor=user, project=first, invitee=invitee, role="viewer")
        services.invitation_accept(actor=invitee, invitation=invitation)
    # Budgets are at most one per metric (tokens, cost) per scope, so their lists stay tiny by design.
    for metric in ("tokens", "cost"):
        services.budget_set(actor=user, project=None, metric=metric, monthly_limit=10**9)
        services.budget_set(actor=user, project=first, metric=metric, monthly_limit=10**9)
    return first


LISTS = [
    "/api/projects/?page_size=100",
    "/api/projects/?page_size=100&tech=python&search=P&status=active",
    "/api/projects/{p}/executions/?page_size=100",
    "/api/projects/{p}/executions/?page_size=100&agent_type=claude-code&status=completed",
    "/api/projects/{p}/collaborators/?page_size=100",
    "/api/usage/?page_size=100",
    "/api/budgets/?page_size=100",
    "/api/projects/{p}/budgets/?page_size=100",
    "/api/keys/?page_size=100",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("rows", [1, 100])
def test_list_query_count_does_not_grow(rich_user, api_key_for, path, rows, django_assert_max_num_queries):
    first = _fill(rich_user, rows)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(rich_user)}")
    # API-key auth (1) + touch (1) + api_calls metering upsert (1) + plan limits (cached) + count + page + budgets' usage.
    with django_assert_max_num_queries(8):
        response = client.get(path.format(p=first.pk))
    assert response.status_code == 200
    assert response.json()["count"] >= 1


def test_projects_list_reads_plan_limits_once_per_response_not_per_row(rich_user, api_key_for, monkeypatch):
    """Each row's ``read_only`` needs the owner's plan limits: one cache read per tier per response, since
    a round trip per row was the list's largest cost beyond its SQL (docs/performance.md)."""
    from billing import limits

    for index in range(30):
        services.project_create(actor=rich_user, data={"name": f"P{index}"})
    reads = []
    real = limits.plan_limits_for_tier
    monkeypatch.setattr(limits, "plan_limits_for_tier", lambda tier: reads.append(tier) or real(tier))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(rich_user)}")

    response = client.get("/api/projects/?page_size=30")

    assert response.status_code == 200 and len(response.json()["results"]) == 30
    # One for the plan's daily API-call allowance (the throttle), one for the whole list.
    assert reads == ["enterprise", "enterprise"]


def _report_through_the_domain(raw_key, project_id):
    """What the benchmark's bare view does (benchmarks/api.py): the same functions, no API layer."""
    from accounts.services import api_key_authenticate
    from projects import selectors

    user = api_key_authenticate(raw_key).user
    project = selectors.project_get_visible(user=user, project_id=project_id)
    return services.execution_record(actor=user, project=project, data=finished_run())


def test_reporting_a_run_costs_one_statement_over_the_domain_function(rich_user, api_key_for, monkeypatch):
    """The API adds exactly one SQL statement to what the domain function runs (the ``api_calls``
    metering upsert of PlanApiCallsThrottle) and no plan-limits cache read: the limits the throttle
    read serve the service too (docs/performance.md, issue 13)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing import limits

    project = services.project_create(actor=rich_user, data={"name": "P"})
    raw_key = api_key_for(rich_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    url = f"/api/projects/{project.pk}/executions/"
    assert client.post(url, finished_run(), format="json").status_code == 201  # the key's last_used_at is set now
    reads = []
    real = limits.plan_limits_for_tier
    monkeypatch.setattr(limits, "plan_limits_for_tier", lambda tier: reads.append(tier) or real(tier))

    with CaptureQueriesContext(connection) as api:
        response = client.post(url, finished_run(), format="json")
    api_reads, reads[:] = list(reads), []
    with CaptureQueriesContext(connection) as domain:
        _report_through_the_domain(raw_key, project.pk)

    assert response.status_code == 201
    assert len(api) == len(domain) + 1
    assert sum("INSERT INTO usage_metrics" in q["sql"] and "'api_calls'" in q["sql"] for q in api) == 1
    assert len(api) <= 15
    # The owner's limits (is the project still writable) and the reporter's (daily API calls, monthly
    # executions): one read each, here the same user.
    assert api_reads == reads == ["enterprise", "enterprise"]
