"""Date-times the API reads, in filters and bodies: any RFC 3339 offset works, what UTC cannot hold is a 400."""

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from projects import services
from projects.models import AgentExecution
from tests.factories import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user):
    return sign_in(APIClient(), user)  # a freshly signed-in session: keys may be created


@pytest.fixture
def project(user):
    return services.project_create(actor=user, data={"name": "Apollo"})


@pytest.fixture
def run_at_16h(project):
    execution = AgentExecution.objects.create(project=project, agent_type="codex")
    AgentExecution.objects.filter(pk=execution.pk).update(created_at=datetime(2026, 1, 1, 16, 0, tzinfo=UTC))
    return execution


def executions(client, project, **params):
    return client.get(f"/api/projects/{project.pk}/executions/", params)


@pytest.mark.parametrize(
    ("params", "listed"),
    [
        # The fuzzer's finds: offsets PostgreSQL refuses (beyond ±15:59), compared as the UTC instant.
        ({"until": "2026-01-01T00:00:00-16:34"}, True),  # 16:34Z
        ({"until": "2026-01-01T00:00:00-15:59"}, False),  # 15:59Z
        ({"since": "2026-01-02T00:00:00+23:59"}, True),  # 00:01Z on Jan 1st
        ({"since": "2026-01-01T23:59:00+07:58"}, False),  # 16:01Z
        ({"since": "2026-01-01t15:00:00z"}, True),  # RFC 3339 allows lower case
        ({"since": "0001-01-01T00:00:00-23:59", "until": "9999-12-31T23:59:59+23:59"}, True),
    ],
)
def test_any_rfc3339_offset_filters_by_the_instant(client, project, run_at_16h, params, listed):
    response = executions(client, project, **params)
    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["results"]] == ([str(run_at_16h.pk)] if listed else [])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("until", "9999-12-31T23:59:59-23:59"),  # after 9999-12-31 in UTC
        ("since", "9999-12-31T23:00:00-01:00"),
        ("since", "0001-01-01T00:00:00+23:59"),  # before year 1 in UTC
        ("until", "0001-01-01T00:00:00+00:01"),
        ("until", "2026-01-01T00:00:00+24:00"),  # not RFC 3339 either
    ],
)
def test_a_filter_instant_utc_cannot_hold_is_a_400_naming_it(client, project, name, value):
    response = executions(client, project, **{name: value})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [name]


# An expiry must lie ahead: without a held clock this test would start failing on 2030-01-01.
@pytest.mark.time_machine(datetime(2029, 6, 1, tzinfo=UTC), tick=True)
def test_an_api_key_expiry_with_a_far_offset_is_stored_as_its_instant(client):
    response = client.post("/api/keys/", {"name": "far", "expires_at": "2030-01-01T00:00:00-16:34"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["expires_at"] == "2030-01-01T16:34:00Z"


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+00:01", "2030-01-01T00:00:00+24:00"])
def test_an_api_key_expiry_utc_cannot_hold_is_a_400(client, value):
    response = client.post("/api/keys/", {"name": "edge", "expires_at": value}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["expires_at"]
