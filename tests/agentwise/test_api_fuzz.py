"""Property-based API fuzzing from our own OpenAPI schema (schemathesis), in-process over WSGI.

Every operation, with generated valid and invalid input, must: never answer 5xx, answer only
documented status codes and content types, match the documented response schema, reject input
that violates the schema, and accept input that follows it. An authenticated user's API key
(on the Enterprise plan, so plan limits do not refuse valid requests) is sent on every request.
"""

import json
import re
from datetime import UTC, date, datetime, time

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from projects.services import project_create
from tests.live import session_cookie_for

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
# image they claim, or report more cached input tokens than input tokens (a rule between two fields);
# a forum topic names a channel in its body that must exist, be visible and be a forum; a checkout names
# a Stripe price that must be on sale.
# (DELETE /api/me/ is fuzzed with every check and is safe to: the fuzzer sends an API key, and an account
# is never deleted with a key — always 403, tests/accounts/test_deletion.py has the session cases.)
DATA_DEPENDENT = {
    ("GET", "/api/community/channels/{channel_id}/messages/"),
    ("POST", "/api/community/channels/{channel_id}/messages/"),
    ("POST", "/api/community/attachments/"),
    ("POST", "/api/forum/posts/"),
    ("POST", "/api/billing/checkout/"),
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


# --- Every operation -------------------------------------------------------------------------------
# The test above covers what the schema documents; these hold the schema to the URL conf, so an API
# route (a new app's, say) cannot be served without being fuzzed.

_HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_NOT_OPERATIONS = ("api-schema", "api-docs", "api-redoc")  # the schema and its viewers


def _served_operations():
    """(METHOD, path shape) of every DRF view the URL conf serves under /api/."""
    from django.urls import URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    for full, pattern in walk(get_resolver().url_patterns):
        callback = pattern.callback
        cls = getattr(callback, "cls", None)
        if not full.startswith("api/") or cls is None or pattern.name in _NOT_OPERATIONS:
            continue
        # (A viewset adds "head" to its actions on its first GET: only the operation methods count.)
        methods = getattr(callback, "actions", None) or [m for m in cls.http_method_names if hasattr(cls, m)]
        for method in set(methods) & set(_HTTP_METHODS):
            yield method.upper(), _shape("/" + full.replace("^", "").replace("$", ""))


def _shape(path: str) -> str:
    """A path with every parameter as ``{}``: Django's ``<name>`` and ``(?P<name>…)``, OpenAPI's ``{name}``."""
    path = re.sub(r"\(\?P<\w+>(?:[^()]|\([^()]*\))*\)", "{}", path)
    return re.sub(r"<(?:\w+:)?\w+>|\{\w+\}", "{}", path)


def test_schemathesis_parametrises_every_documented_operation():
    parametrised = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    documented = {
        (method.upper(), path)
        for path, operations in schema.raw_schema["paths"].items()
        for method in operations
        if method in _HTTP_METHODS
    }
    assert parametrised == documented


def test_every_api_route_is_in_the_schema():
    served = set(_served_operations())
    documented = {(method, _shape(path)) for method, path in
                  ((r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations())}
    assert served - documented == set(), "served under /api/ but not in the schema (so never fuzzed)"
    assert documented - served == set(), "in the schema but not served"
    assert {("POST", "/api/billing/checkout/"), ("POST", "/api/billing/portal/")} <= documented


# --- Date-times at the edges -----------------------------------------------------------------------
# The test above rarely reaches a date-time input (they sit behind a project id that does not exist, or
# need a browser session) and draws offsets and years near the middle. PostgreSQL refuses an offset
# beyond ±15:59 that Python and RFC 3339 take (a 500 an outside fuzzer found), and UTC cannot hold
# every RFC 3339 instant near 0001-01-01 and 9999-12-31. So every date-time the schema says the API
# reads is fuzzed here on a real object, with those edges likely.


def _date_time_inputs():
    """(method, path, "query" or "body", name) of every date-time input in the schema."""
    raw = schema.raw_schema
    for path, operations in raw["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter.get("schema", {}).get("format") == "date-time":
                    yield method.upper(), path, "query", parameter["name"]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in body:
                body = raw["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
            for name, prop in body.get("properties", {}).items():
                if prop.get("format") == "date-time" and not prop.get("readOnly"):
                    yield method.upper(), path, "body", name


# The blog's writes are staff-only (this file's user is a member: a 403 before any field is read); their
# date-times are fuzzed at these edges with a staff key in tests/content/test_blog_api.py.
# So are the docs' (go_live_at), in tests/content/test_docs_api.py.
STAFF_ONLY_PATHS = ("/api/blog/", "/api/docs/pages/")
DATE_TIME_INPUTS = sorted(i for i in set(_date_time_inputs()) if not i[1].startswith(STAFF_ONLY_PATHS))
# Whether a valid value is accepted is asserted below, against the instant it names.
EDGE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

_edge_dates = st.sampled_from([date.min, date(1, 1, 2), date(9999, 12, 30), date.max]) | st.dates()
_offsets = st.sampled_from(["Z", "z", "+00:00", "-00:00"]) | st.builds(
    "{}{:02d}:{:02d}".format,
    st.sampled_from("+-"),
    st.sampled_from([15, 16, 23]) | st.integers(0, 23),
    st.sampled_from([0, 59]) | st.integers(0, 59),
)
EDGE_DATE_TIMES = st.builds(
    "{}{}{}{}".format, _edge_dates.map(date.isoformat), st.sampled_from("Tt"), st.times().map(time.isoformat), _offsets
)


def _utc_instant(value: str):
    """The instant in UTC, or None where UTC cannot hold it."""
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except OverflowError:
        return None


@pytest.fixture
def session(user, settings):
    """A signed-in browser session (API keys can only be created from one), with its CSRF token."""
    settings.DEBUG = False
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    csrf = "c" * 32  # Django takes an unmasked secret as cookie and header alike
    yield {
        "cookies": {"sessionid": session_cookie_for(user), "csrftoken": csrf},
        "headers": {"X-CSRFToken": csrf},
        # werkzeug's client sends no peer address; a server always does (allauth records it per session).
        "environ_base": {"REMOTE_ADDR": "127.0.0.1"},
    }
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def path_values(user):
    """A real object for every path parameter in front of a date-time input: else the request is a 404."""
    return {"project_id": str(project_create(actor=user, data={"name": "Fuzzed"}).pk)}


def test_every_date_time_input_is_fuzzed():
    assert {(m, p, n) for m, p, _, n in DATE_TIME_INPUTS} >= {
        ("GET", "/api/projects/{project_id}/executions/", "since"),
        ("GET", "/api/projects/{project_id}/executions/", "until"),
        ("POST", "/api/keys/", "expires_at"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "location", "name"), DATE_TIME_INPUTS)
def test_date_time_inputs_at_the_edges(method, path, location, name, session, path_values):
    operation = schema[path][method]
    names = [p.name for p in operation.path_parameters]
    missing = set(names) - set(path_values)
    assert not missing, f"give path_values a real object for {missing}"
    strategy = operation.as_strategy(path_parameters={n: path_values[n] for n in names})

    @given(case=strategy, value=EDGE_DATE_TIMES)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case, value):
        # The session signs in; a generated (blank) bearer token would be a 401 before any field is read.
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if location == "query":
            case.query = {**(case.query or {}), name: value}
        else:
            case.body = {**case.body, name: value}
        response = case.call_and_validate(app=wsgi_app, checks=EDGE_CHECKS, **session)
        named = response.status_code == 400 and name in response.json()["error"].get("fields", {})
        instant = _utc_instant(value)
        if instant is None:
            assert named, f"{value} is outside UTC's years 1-9999, not refused: {response.status_code} {response.text}"
        elif instant > datetime.now(UTC):
            assert not named, f"{value} is a valid instant, refused: {response.json()}"

    check()


# --- Session-only operations -------------------------------------------------------------------------
# The run above sends an API key, which these refuse (403 ``session_required``) before reading anything:
# here a signed-in session drives them, so their 200/202/404/429 answers are held to the schema too.
SESSION_ONLY = [("GET", "/api/me/export/", {404}), ("POST", "/api/me/export/", {202, 429})]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "expected"), SESSION_ONLY)
def test_session_only_operations_conform_to_the_schema(method, path, expected, session):
    operation = schema[path][method]
    seen = set()

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case):
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = case.call_and_validate(app=wsgi_app, checks=BASE_CHECKS, **session)
        seen.add(response.status_code)

    check()
    # No export yet: GET is a 404; the first POST queues one (202), the next are once-a-day 429s.
    assert seen == expected
