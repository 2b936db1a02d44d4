"""Executions: start/finish, idempotency, filters, cost, usage counters, plan limits, budgets, API-call metering."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Notification
from billing.limits import plan_limits_changed
from billing.models import PlanLimit
from projects import metering, services
from projects.models import AgentExecution, ProjectUsage, UsageMetric
from tests import clock

from .conftest import finished_run

# Counters, plan limits and budget warnings are per UTC day and month: each test runs from noon of the run's
# day, with time ticking, so reporting and reading back never straddle a period boundary.
# The tests named *_again_* cross one on purpose.
pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(clock.noon_today, tick=True)]


@pytest.fixture
def project(user):
    return services.project_create(actor=user, data={"name": "Apollo"})


@pytest.fixture
def client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(project, suffix=""):
    return f"/api/projects/{project.pk}/executions/{suffix}"


def month_value(user, metric):
    return metering.usage_value(user_id=user.pk, metric=metric, period="month")


def test_start_then_complete_sets_server_times_and_meters(client, user, project):
    started = client.post(url(project), {"agent_type": "claude-code", "command": "fix tests"}, format="json")
    assert started.status_code == 201
    body = started.json()
    assert body["status"] == "running" and body["completed_at"] is None
    assert month_value(user, "executions") == 1 and month_value(user, "tokens_used") == 0

    finished = client.patch(
        url(project, f"{body['id']}/"),
        {"status": "completed", "model": "claude-sonnet-4", "input_tokens": 10_000, "cached_input_tokens": 2_000,
         "output_tokens": 1_000, "tokens_saved": 4_000, "completed_at": "1999-01-01T00:00:00Z"},
        format="json",
    )
    assert finished.status_code == 200
    done = finished.json()
    assert done["status"] == "completed"
    assert done["completed_at"] > body["created_at"]  # set by the server, the client's value is ignored
    assert done["execution_time_ms"] is not None
    # claude-sonnet-4: 8,000 x $3 + 2,000 x $0.30 + 1,000 x $15 per million tokens
    assert done["cost"] == "0.039600"
    assert month_value(user, "tokens_used") == 11_000
    assert month_value(user, "tokens_saved") == 4_000
    assert month_value(user, "cost") == 39_600
    assert ProjectUsage.objects.get(project=project).tokens_used == 11_000


def test_finishing_twice_is_409_and_counts_once(client, user, project):
    execution_id = client.post(url(project), {"agent_type": "codex"}, format="json").json()["id"]
    assert client.patch(url(project, f"{execution_id}/"), {"status": "failed", "error_message": "boom", "input_tokens": 10}, format="json").status_code == 200
    again = client.patch(url(project, f"{execution_id}/"), {"status": "completed", "input_tokens": 99}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "execution_finished"
    assert month_value(user, "tokens_used") == 10


def test_finish_needs_a_terminal_status(client, project):
    execution_id = client.post(url(project), {"agent_type": "codex"}, format="json").json()["id"]
    response = client.patch(url(project, f"{execution_id}/"), {"status": "running"}, format="json")
    assert response.status_code == 400 and "status" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "agent_type"),
        ({"agent_type": "x", "input_tokens": -1}, "input_tokens"),
        ({"agent_type": "x", "input_tokens": "12"}, "input_tokens"),
        ({"agent_type": "x", "input_tokens": 1.5}, "input_tokens"),
        ({"agent_type": "x", "status": "exploded"}, "status"),
        ({"agent_type": "x", "metadata": "str"}, "metadata"),
        ({"agent_type": "x" * 101}, "agent_type"),
        ({"agent_type": "x", "input_tokens": 5, "cached_input_tokens": 6}, "cached_input_tokens"),
    ],
)
def test_invalid_reports_are_field_errors_and_count_nothing(client, user, project, payload, field):
    response = client.post(url(project), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert AgentExecution.objects.count() == 0
    assert month_value(user, "executions") == 0


def test_idempotency_key_returns_the_first_result(client, user, project):
    first = client.post(url(project), finished_run(), format="json", HTTP_IDEMPOTENCY_KEY="run-42")
    retry = client.post(url(project), finished_run(input_tokens=1), format="json", HTTP_IDEMPOTENCY_KEY="run-42")
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json() == first.json()
    assert AgentExecution.objects.count() == 1
    assert month_value(user, "executions") == 1 and month_value(user, "tokens_used") == 11_000
    other = client.post(url(project), finished_run(), format="json", HTTP_IDEMPOTENCY_KEY="run-43")
    assert other.status_code == 201 and AgentExecution.objects.count() == 2


def test_idempotency_key_reused_on_another_project_is_409(client, user, project):
    other = services.project_create(actor=user, data={"name": "Other"})
    client.post(url(project), finished_run(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert client.post(url(other), finished_run(), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 409


@pytest.mark.parametrize("key", ["k" * 256, "", "two words", "naïve"])
def test_a_malformed_idempotency_key_is_400_and_records_nothing(client, project, key):
    response = client.post(url(project), finished_run(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["error"]["fields"]
    assert not project.executions.exists()


def test_list_filters_and_order(client, user, project):
    services.execution_record(actor=user, project=project, data=finished_run(agent_type="codex", status="failed"))
    services.execution_record(actor=user, project=project, data=finished_run(agent_type="aider"))
    old = services.execution_record(actor=user, project=project, data=finished_run(agent_type="codex"))[0]
    AgentExecution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))

    def agents(**params):
        return [e["agent_type"] + ":" + e["status"] for e in client.get(url(project), params).json()["results"]]

    assert agents() == ["aider:completed", "codex:failed", "codex:completed"]
    assert agents(agent_type="codex") == ["codex:failed", "codex:completed"]
    assert agents(status="failed") == ["codex:failed"]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert len(agents(since=since)) == 2 and agents(until=since) == ["codex:completed"]
    assert client.get(url(project), {"since": "yesterday"}).status_code == 400


def test_unknown_model_is_metered_in_tokens_at_zero_cost(client, user, project):
    body = client.post(url(project), finished_run(model="homegrown-7b"), format="json").json()
    assert body["cost"] == "0.000000"
    assert month_value(user, "tokens_used") == 11_000


def test_price_table_changes_apply_to_new_executions(client, user, project):
    from projects.models import ModelPrice

    ModelPrice.objects.filter(model="claude-sonnet-4").update(input_per_mtok=0, cached_input_per_mtok=0, output_per_mtok=1000)
    assert client.post(url(project), finished_run(), format="json").json()["cost"] == "1.000000"


def test_archived_projects_refuse_new_executions(client, user, project):
    services.project_update(actor=user, project=project, data={"status": "archived"})
    assert client.post(url(project), finished_run(), format="json").status_code == 403


def test_usage_endpoint_per_day_and_month(client, user, project):
    services.execution_record(actor=user, project=project, data=finished_run())
    body = client.get("/api/usage/", {"period": "month"}).json()
    month = {row["metric"]: row for row in body["results"]}
    assert month["executions"]["value"] == 1
    assert month["tokens_used"]["value"] == 11_000
    assert month["cost"]["cost_usd"] == "0.039600"
    assert month["projects_created"]["value"] == 1
    day = client.get("/api/usage/", {"period": "day", "metric": "tokens_saved"}).json()["results"]
    assert [(r["metric"], r["period"], r["value"]) for r in day] == [("tokens_saved", "day", 4_000)]
    today = timezone.localdate().isoformat()
    assert client.get("/api/usage/", {"since": today, "until": today, "period": "day"}).json()["count"] == 5
    assert client.get("/api/usage/", {"metric": "bogus"}).status_code == 400
    assert client.get("/api/usage/", {"since": "not-a-date"}).status_code == 400


def test_usage_is_private(project, user):
    services.execution_record(actor=user, project=project, data=finished_run())
    stranger = APIClient()
    from tests.factories import UserFactory

    stranger.force_authenticate(UserFactory())
    assert stranger.get("/api/usage/").json()["count"] == 0


def test_monthly_execution_limit_is_exact_and_402(client, user, project):
    PlanLimit.objects.filter(tier="free").update(executions_per_month=3)
    plan_limits_changed("free")
    statuses = [client.post(url(project), finished_run(), format="json").status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 402, 402]
    error = client.post(url(project), finished_run(), format="json").json()["error"]
    assert error["limit"] == "executions_per_month" and error["allowed"] == 3 and error["current"] == 3
    assert AgentExecution.objects.count() == 3
    assert month_value(user, "executions") == 3  # refused reports are rolled back, not counted
    assert month_value(user, "tokens_used") == 33_000


def test_budget_warning_once_per_period_in_app_and_email(client, user, project, django_capture_on_commit_callbacks):
    services.budget_set(actor=user, project=project, metric="tokens", monthly_limit=25_000)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(project), finished_run(), format="json")  # 11,000: 44 %
        assert Notification.objects.count() == 0
        client.post(url(project), finished_run(), format="json")  # 22,000: 88 % -> warn
        client.post(url(project), finished_run(), format="json")  # 33,000: already warned this month
    notifications = list(Notification.objects.filter(user=user))
    assert len(notifications) == 1
    assert notifications[0].kind == "budget_warning"
    assert "88%" in notifications[0].title and "Apollo" in notifications[0].title
    assert [m.subject for m in mail.outbox] == [notifications[0].title]
    assert notifications[0].emailed_at is not None


def test_counters_and_the_monthly_limit_start_again_on_the_1st_at_utc_midnight(client, user, project, time_machine):
    """The last second of December counts in December; the next second starts new day and month counters."""
    PlanLimit.objects.filter(tier="free").update(executions_per_month=1)
    plan_limits_changed("free")
    time_machine.move_to(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), tick=False)
    assert client.post(url(project), finished_run(), format="json").status_code == 201
    assert client.post(url(project), finished_run(), format="json").status_code == 402  # December's one is used

    time_machine.move_to(datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC), tick=False)
    assert client.post(url(project), finished_run(), format="json").status_code == 201
    for period in ("day", "month"):
        assert metering.usage_value(user_id=user.pk, metric="executions", period=period) == 1
        december = datetime(2026, 12, 31, 12, tzinfo=UTC)
        assert metering.usage_value(user_id=user.pk, metric="executions", period=period, at=december) == 1
    rows = client.get("/api/usage/", {"metric": "executions", "period": "month"}).json()["results"]
    assert [(r["period_start"], r["period_end"], r["value"]) for r in rows] == [
        ("2027-01-01", "2027-01-31", 1),
        ("2026-12-01", "2026-12-31", 1),
    ]
    assert sorted(ProjectUsage.objects.filter(project=project).values_list("period_start", "executions")) == [
        (date(2026, 12, 1), 1),
        (date(2027, 1, 1), 1),
    ]


def test_a_budget_warns_again_in_a_new_month(client, user, project, time_machine):
    """A new month's usage starts from zero, and crossing the threshold again warns again."""
    services.budget_set(actor=user, project=project, metric="tokens", monthly_limit=25_000)
    for instant in (datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)):
        time_machine.move_to(instant, tick=False)
        for _ in range(2):
            client.post(url(project), finished_run(), format="json")  # 22,000 of 25,000 this month: 88 %
    titles = list(Notification.objects.filter(user=user, kind="budget_warning").values_list("title", flat=True))
    assert len(titles) == 2 and all("88%" in title for title in titles)


def test_budget_hard_cap_refuses_with_402(client, user, project):
    services.budget_set(actor=user, metric="cost", monthly_limit=50_000, hard_cap=True)  # $0.05 account budget
    assert client.post(url(project), finished_run(), format="json").status_code == 201  # $0.0396
    assert client.post(url(project), finished_run(), format="json").status_code == 201  # now $0.0792, over
    response = client.post(url(project), finished_run(), format="json")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "budget_exceeded" and error["limit"] == "budget_cost"
    assert "$0.08 of $0.05" in error["message"]
    assert AgentExecution.objects.count() == 2


def test_budget_validation(client, project):
    response = client.post(f"/api/projects/{project.pk}/budgets/", {"metric": "tokens", "monthly_limit": 0}, format="json")
    assert response.status_code == 400 and "monthly_limit" in response.json()["error"]["fields"]
    for bad_ratio in (1.5, 0, "0.5", True):
        response = client.post("/api/budgets/", {"metric": "tokens", "monthly_limit": 10, "warn_ratio": bad_ratio}, format="json")
        assert response.status_code == 400 and "warn_ratio" in response.json()["error"]["fields"], bad_ratio


def test_budget_warn_ratio_is_a_number_kept_to_three_decimals(client):
    response = client.post("/api/budgets/", {"metric": "tokens", "monthly_limit": 10, "warn_ratio": 0.12345}, format="json")
    assert response.status_code == 201
    assert response.json()["warn_ratio"] == 0.123
    assert client.get("/api/budgets/").json()["results"][0]["warn_ratio"] == 0.123


def test_setting_a_budget_twice_replaces_it(client, user):
    client.post("/api/budgets/", {"metric": "tokens", "monthly_limit": 10}, format="json")
    client.post("/api/budgets/", {"metric": "tokens", "monthly_limit": 20}, format="json")
    assert [b["monthly_limit"] for b in client.get("/api/budgets/").json()["results"]] == [20]


def test_api_key_calls_are_metered_and_limited_per_day(user, api_key_for, project):
    PlanLimit.objects.filter(tier="free").update(api_calls_per_day=3)
    plan_limits_changed("free")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user)}")
    statuses = [client.get("/api/projects/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/projects/")
    error = response.json()["error"]
    assert error["code"] == "plan_limit_reached" and error["limit"] == "api_calls_per_day"
    assert int(response["Retry-After"]) > 0 and error["upgrade_url"] == "/pricing/"
    assert metering.usage_value(user_id=user.pk, metric="api_calls", period="day") == 5


def test_session_requests_are_not_metered_as_api_calls(client, user):
    client.get("/api/projects/")
    assert not UsageMetric.objects.filter(user=user, metric_type="api_calls").exists()
