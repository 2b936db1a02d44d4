"""Concurrent execution reports add up exactly: counters are SQL upserts, never read-modify-write.

Real threads, each with its own database connection, against the configured database (PostgreSQL in CI).
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from billing.limits import plan_limits_changed
from billing.models import PlanLimit
from projects import metering, services
from projects.models import AgentExecution, ProjectUsage
from tests import clock
from tests.factories import UserFactory

from .conftest import finished_run

# The reports take seconds and are read back per day and month: from noon, none lands in the next period.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.time_machine(clock.noon_today, tick=True)]

REPORTS = 100


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connections.close_all()  # each worker thread opened its own connection

    return run


@pytest.fixture
def setup(reference_data):
    user = UserFactory()
    user.profile.subscription_tier = "enterprise"
    user.profile.save()
    project = services.project_create(actor=user, data={"name": "Busy"})
    return user, project


def _post(user, project, body, key=None):
    client = APIClient()
    client.force_authenticate(user)
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/projects/{project.pk}/executions/", body, format="json", **extra).status_code


def test_100_concurrent_reports_add_up_exactly(setup):
    user, project = setup
    workers = 16 if connection.vendor == "postgresql" else 4
    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = list(pool.map(_in_thread(lambda i: _post(user, project, finished_run())), range(REPORTS)))
    assert statuses == [201] * REPORTS
    assert AgentExecution.objects.filter(project=project).count() == REPORTS
    assert metering.usage_value(user_id=user.pk, metric="executions") == REPORTS
    assert metering.usage_value(user_id=user.pk, metric="tokens_used") == REPORTS * 11_000
    assert metering.usage_value(user_id=user.pk, metric="tokens_saved", period="day") == REPORTS * 4_000
    assert metering.usage_value(user_id=user.pk, metric="cost") == REPORTS * 39_600
    usage = ProjectUsage.objects.get(project=project)
    assert (usage.executions, usage.tokens_used) == (REPORTS, REPORTS * 11_000)


def test_concurrent_retries_with_one_idempotency_key_make_one_execution(setup):
    user, project = setup
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(_in_thread(lambda i: _post(user, project, finished_run(), key="same")), range(20)))
    assert sorted(statuses) == [200] * 19 + [201]
    assert AgentExecution.objects.filter(project=project).count() == 1
    assert metering.usage_value(user_id=user.pk, metric="executions") == 1


def test_monthly_limit_holds_under_concurrency(setup):
    user, project = setup
    user.profile.subscription_tier = "free"
    user.profile.save()
    PlanLimit.objects.filter(tier="free").update(executions_per_month=30)
    plan_limits_changed("free")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(_in_thread(lambda i: _post(user, project, finished_run())), range(50)))
    assert statuses.count(201) == 30 and statuses.count(402) == 20
    assert AgentExecution.objects.filter(project=project).count() == 30
    assert metering.usage_value(user_id=user.pk, metric="executions") == 30
