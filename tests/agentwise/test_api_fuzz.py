"""Property-based API fuzzing from our own OpenAPI schema (schemathesis), in-process over WSGI.

Every operation, with generated valid and invalid input, must: never answer 5xx, answer only
documented status codes and content types, match the documented response schema, and reject
input that violates the schema. An authenticated user's API key is sent on every request.
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
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


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
    yield api_key_for(user, name="fuzz")
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, fuzz_key):
    case.call_and_validate(app=wsgi_app, headers={"Authorization": f"Bearer {fuzz_key}"}, checks=CHECKS)
