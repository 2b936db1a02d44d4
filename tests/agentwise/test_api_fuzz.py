"""Property-based API fuzzing from our own OpenAPI schema (schemathesis), in-process over WSGI.

Every operation, with generated valid and invalid input, must: never answer 5xx, answer only
documented status codes and content types, match the documented response schema, reject input
that violates the schema, and accept input that follows it. An authenticated user's API key
(on the Enterprise plan, so plan limits do not refuse valid requests) is sent on every request.
"""

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

BASE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
CHECKS = [*BASE_CHECKS, positive_data_acceptance]

# Schema-valid requests these refuse (400) for reasons no schema can state: they name a user, an
# attachment or a cursor message that does not exist, invite the owner, upload bytes that are not the
# image they claim, or report more cached input tokens than input tokens (a rule between two fields).
DATA_DEPENDENT = {
    ("GET", "/api/community/channels/{channel_id}/messages/"),
    ("POST", "/api/community/channels/{channel_id}/messages/"),
    ("POST", "/api/community/attachments/"),
    ("POST", "/api/projects/{project_id}/collaborators/"),
    ("POST", "/api/projects/{id}/transfer/"),
    ("POST", "/api/projects/{project_id}/executions/"),
    ("PATCH", "/api/projects/{project_id}/executions/{id}/"),
}


def _load_schema():
    # Generated in-process (no database needed), exactly as /api/schema/ serves it.
    document = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))


schema = _load_schema()
wsgi_app = get_wsgi_application()


@pytest.fixture
def fuzz_key(user, api_key_for, settings):
    settings.DEBUG = False
    # As Django's test client does: keep the test's connection (and transaction) open across requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    user.profile.subscription_tier = "enterprise"
    user.profile.save(update_fields=["subscription_tier"])
    yield api_key_for(user, name="fuzz")
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, fuzz_key):
    checks = BASE_CHECKS if (case.method, case.path) in DATA_DEPENDENT else CHECKS
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Bearer {fuzz_key}"}, checks=checks)
