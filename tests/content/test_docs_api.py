"""/api/docs/pages/: public reads of published pages; staff writes (a staff user's API key is how CI
publishes docs); drafts, schedules, revisions and restore; every bad input a 400 naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signals
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from content import revisions, services
from content.models import Documentation
from tests.agentwise.test_api_fuzz import EDGE_DATE_TIMES, _utc_instant, schema, wsgi_app
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

PAGES = "/api/docs/pages/"
BODY = [{"type": "paragraph", "text": "Run `pip install agentwise`."}]
FIELDS = {
    "id",
    "slug",
    "title",
    "content",
    "category",
    "position",
    "version",
    "parent",
    "is_published",
    "url",
    "created_at",
    "updated_at",
    "has_unpublished_changes",
}


def _page(staff, title, **fields):
    return services.documentation_create(actor=staff, fields={"title": title, "content": BODY, **fields})


@pytest.fixture
def staff_client(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def staff_key_client(staff_user, api_key_for):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(staff_user)}")
    return client


@pytest.fixture
def docs(staff_user):
    guide = _page(staff_user, "Guide", version="2.0", category="Start here")
    install = _page(staff_user, "Install", version="2.0", parent=guide, position=1)
    draft = _page(staff_user, "Roadmap", version="2.0", is_published=False)
    old = _page(staff_user, "Guide", version="1.0")
    return {"guide": guide, "install": install, "draft": draft, "old": old}


def _ids(response) -> set:
    return {row["id"] for row in response.json()["results"]}


# --- reads ---------------------------------------------------------------------------------------


def test_the_public_lists_published_pages(api_client, docs):
    response = api_client.get(PAGES)
    assert response.status_code == 200
    assert _ids(response) == {str(docs[name].pk) for name in ("guide", "install", "old")}
    row = next(r for r in response.json()["results"] if r["id"] == str(docs["install"].pk))
    assert set(row) == FIELDS
    assert row["url"] == "/docs/2.0/guide/install/" and row["parent"] == str(docs["guide"].pk)
    assert row["content"] == BODY and row["version"] == "2.0" and row["has_unpublished_changes"] is False


def test_members_read_like_the_public_and_staff_see_everything(user_client, staff_client, key_client, docs):
    assert str(docs["draft"].pk) not in _ids(user_client.get(PAGES))
    assert str(docs["draft"].pk) not in _ids(key_client.get(PAGES))
    assert str(docs["draft"].pk) in _ids(staff_client.get(PAGES))


def test_the_list_filters_by_version_slug_and_parent(api_client, docs):
    assert _ids(api_client.get(PAGES, {"version": "1.0"})) == {str(docs["old"].pk)}
    assert _ids(api_client.get(PAGES, {"version": "2.0", "slug": "guide"})) == {str(docs["guide"].pk)}
    assert _ids(api_client.get(PAGES, {"parent": str(docs["guide"].pk)})) == {str(docs["install"].pk)}
    assert _ids(api_client.get(PAGES, {"version": "9.9"})) == set()


@pytest.mark.parametrize(
    "query", ["version=", "version=1.0&version=2.0", "parent=nope", "page=0", "page_size=101"]
)
def test_bad_list_parameters_are_400(api_client, docs, query):
    response = api_client.get(f"{PAGES}?{query}")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) <= {"version", "parent", "page", "page_size"}


def test_the_list_is_paginated(api_client, staff_user):
    for number in range(30):
        _page(staff_user, f"Page {number}", version="3.0", position=number)
    first = api_client.get(PAGES, {"version": "3.0"}).json()
    assert first["count"] == 30 and len(first["results"]) == 25 and first["next"]
    assert [row["title"] for row in first["results"][:3]] == ["Page 0", "Page 1", "Page 2"]


@pytest.mark.parametrize("size", [5, 50])
def test_the_list_runs_constant_queries(api_client, staff_user, size, django_assert_num_queries):
    parent = _page(staff_user, "Top", version="4.0")
    for number in range(size - 1):
        _page(staff_user, f"Page {number}", version="4.0", parent=parent)
    with django_assert_num_queries(3):  # count, page, the pages' paths (one query per list)
        response = api_client.get(PAGES, {"page_size": 100})
    assert response.json()["count"] == size


def test_one_page_is_public_unless_unpublished(api_client, user_client, staff_client, docs):
    response = api_client.get(f"{PAGES}{docs['install'].pk}/")
    assert response.status_code == 200 and response.json()["url"] == "/docs/2.0/guide/install/"
    assert api_client.get(f"{PAGES}{docs['draft'].pk}/").status_code == 404
    assert user_client.get(f"{PAGES}{docs['draft'].pk}/").status_code == 404
    assert staff_client.get(f"{PAGES}{docs['draft'].pk}/").json()["is_published"] is False
    assert api_client.get(f"{PAGES}not-a-uuid/").status_code == 404


# --- who may write -------------------------------------------------------------------------------

WRITES = [
    ("post", lambda docs: PAGES, {"title": "New page"}),
    ("patch", lambda docs: f"{PAGES}{docs['install'].pk}/", {"title": "Installing"}),
    ("delete", lambda docs: f"{PAGES}{docs['install'].pk}/", None),
    ("get", lambda docs: f"{PAGES}{docs['install'].pk}/revisions/", None),
    (
        "post",
        lambda docs: f"{PAGES}{docs['install'].pk}/revisions/{docs['install'].live_revision_id}/restore/",
        {},
    ),
]


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_anonymous_writers_get_401(api_client, docs, method, url, body):
    response = getattr(api_client, method)(url(docs), body, format="json")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_members_get_403_whatever_they_send(user_client, key_client, docs, method, url, body):
    for client in (user_client, key_client):
        response = getattr(client, method)(url(docs), body, format="json")
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
        if body is not None:  # not even a 400 about the fields
            bad = getattr(client, method)(url(docs), {"title": "", "version": "no spaces"}, format="json")
            assert bad.status_code == 403
    assert Documentation.objects.filter(title="New page").count() == 0
    assert Documentation.objects.get(pk=docs["install"].pk).title == "Install"


def test_ci_publishes_with_a_staff_api_key(staff_key_client, staff_user, docs):
    response = staff_key_client.post(
        PAGES,
        {
            "title": "Upgrading",
            "slug": "upgrading",
            "version": "2.0",
            "parent": str(docs["guide"].pk),
            "position": 2,
            "category": "Start here",
            "content": [{"type": "heading", "text": "From 1.0", "level": 2}, *BODY],
            "change_summary": "Published from CI",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["url"] == "/docs/2.0/guide/upgrading/"
    page = Documentation.objects.get(pk=response.json()["id"])
    (revision,) = page.revisions.all()
    assert revision.author == staff_user and revision.change_summary == "Published from CI"
    assert "From 1.0" in page.search_content  # indexed for search

    response = staff_key_client.patch(
        f"{PAGES}{page.pk}/", {"content": BODY, "change_summary": "Shorter"}, format="json"
    )
    assert response.status_code == 200 and response.json()["content"] == BODY
    assert page.revisions.count() == 2

    assert staff_key_client.delete(f"{PAGES}{page.pk}/").status_code == 204
    assert not Documentation.objects.filter(pk=page.pk).exists()


# --- bad input -----------------------------------------------------------------------------------


def _error_fields(response) -> set:
    assert response.status_code == 400, response.content
    return set(response.json()["error"]["fields"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x", "slug": "Not A Slug"}, "slug"),
        ({"title": "x", "slug": "a--b"}, "slug"),
        ({"title": "x", "version": "two words"}, "version"),
        ({"title": "x", "version": "1.0\n"}, "version"),
        ({"title": "x", "position": 2**31}, "position"),
        ({"title": "x", "position": "3"}, "position"),
        ({"title": "x", "is_published": "yes"}, "is_published"),
        ({"title": "x", "content": "text"}, "content"),
        ({"title": "x", "content": [{"type": "video"}]}, "content"),
        ({"title": "x", "content": [{"type": "paragraph", "text": ""}]}, "content"),
        ({"title": "x", "content": [{"type": "paragraph", "text": "a\x00b"}]}, "content"),
        ({"title": "x", "content": [{"type": "heading", "text": "x", "level": 1}]}, "content"),
        ({"title": "x", "parent": "not-a-uuid"}, "parent"),
        ({"title": "x", "parent": "00000000-0000-0000-0000-000000000000"}, "parent"),
        ({"title": "x", "draft": True, "unknown": 1}, None),
    ],
)
def test_bad_pages_are_400_naming_the_field(staff_client, body, field):
    response = staff_client.post(PAGES, body, format="json")
    if field is None:
        assert response.status_code == 201  # unknown keys are ignored, as everywhere in the API
    else:
        assert field in _error_fields(response)


def test_a_bad_block_is_named(staff_client):
    response = staff_client.post(PAGES, {"title": "x", "content": [*BODY, {"type": "code"}]}, format="json")
    assert response.json()["error"]["fields"]["content"] == ["Block 2 (code): “text” is required."]


def test_the_tree_stays_a_tree(staff_client, docs):
    install, guide, old = docs["install"], docs["guide"], docs["old"]
    other_version = staff_client.post(
        PAGES, {"title": "x", "version": "2.0", "parent": str(old.pk)}, format="json"
    )
    assert _error_fields(other_version) == {"parent"}
    cycle = staff_client.patch(f"{PAGES}{guide.pk}/", {"parent": str(install.pk)}, format="json")
    assert _error_fields(cycle) == {"parent"}
    itself = staff_client.patch(f"{PAGES}{guide.pk}/", {"parent": str(guide.pk)}, format="json")
    assert _error_fields(itself) == {"parent"}
    clash = staff_client.post(
        PAGES, {"title": "Install", "version": "2.0", "parent": str(guide.pk)}, format="json"
    )
    assert _error_fields(clash) == {"slug"}
    moving_a_parent = staff_client.patch(f"{PAGES}{guide.pk}/", {"version": "3.0"}, format="json")
    assert _error_fields(moving_a_parent) == {"version"}
    has_children = staff_client.delete(f"{PAGES}{guide.pk}/")
    assert has_children.status_code == 400
    moved = staff_client.patch(f"{PAGES}{install.pk}/", {"version": "3.0", "parent": None}, format="json")
    assert moved.status_code == 200 and moved.json()["url"] == "/docs/3.0/install/"


# --- drafts, schedules, revisions ----------------------------------------------------------------


def test_a_draft_keeps_the_live_version_up(staff_client, docs):
    install = docs["install"]
    response = staff_client.patch(
        f"{PAGES}{install.pk}/",
        {"title": "Installing", "draft": True, "change_summary": "Better title"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Install" and response.json()["has_unpublished_changes"] is True
    install.refresh_from_db()
    assert revisions.draft_revision(install).content["title"] == "Installing"


def test_a_change_can_be_scheduled(staff_client, docs):
    install = docs["install"]
    when = timezone.now() + timedelta(days=2)
    response = staff_client.patch(
        f"{PAGES}{install.pk}/",
        {"content": [{"type": "paragraph", "text": "Soon."}], "go_live_at": when.isoformat()},
        format="json",
    )
    assert response.status_code == 200 and response.json()["content"] == BODY
    install.refresh_from_db()
    assert revisions.scheduled_revision(install).go_live_at == when
    assert services.publish_due(now=when + timedelta(seconds=1)) == 1
    install.refresh_from_db()
    assert install.content == [{"type": "paragraph", "text": "Soon."}]


@pytest.mark.parametrize(
    "go_live_at",
    [
        "2001-01-01T00:00:00Z",  # in the past
        "9999-12-31T23:00:00-05:00",  # outside the years 1-9999 in UTC
        "tomorrow",
    ],
)
def test_a_bad_schedule_is_400(staff_client, docs, go_live_at):
    response = staff_client.patch(f"{PAGES}{docs['install'].pk}/", {"go_live_at": go_live_at}, format="json")
    assert _error_fields(response) == {"go_live_at"}


def test_only_a_published_page_takes_a_schedule(staff_client, docs):
    when = (timezone.now() + timedelta(days=1)).isoformat()
    response = staff_client.patch(f"{PAGES}{docs['draft'].pk}/", {"go_live_at": when}, format="json")
    assert _error_fields(response) == {"go_live_at"}


def test_staff_read_the_revisions_and_restore_one(staff_client, staff_key_client, docs):
    install = docs["install"]
    first = install.live_revision_id
    staff_client.patch(
        f"{PAGES}{install.pk}/", {"title": "Installing", "change_summary": "Renamed"}, format="json"
    )
    response = staff_key_client.get(f"{PAGES}{install.pk}/revisions/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["change_summary"] for row in rows] == ["Renamed", "Created"]
    assert [row["is_live"] for row in rows] == [True, False]
    assert rows[0]["author"]["username"] and rows[1]["content"]["title"] == "Install"

    restored = staff_client.post(
        f"{PAGES}{install.pk}/revisions/{first}/restore/", {"publish": True}, format="json"
    )
    assert restored.status_code == 200 and restored.json()["title"] == "Install"
    assert install.revisions.count() == 3  # a restore adds a revision; history only grows


def test_restoring_on_a_live_page_is_a_draft_unless_published(staff_client, docs):
    install = docs["install"]
    first = install.live_revision_id
    staff_client.patch(f"{PAGES}{install.pk}/", {"title": "Installing"}, format="json")
    response = staff_client.post(f"{PAGES}{install.pk}/revisions/{first}/restore/", {}, format="json")
    assert response.json()["title"] == "Installing" and response.json()["has_unpublished_changes"] is True


def test_a_revision_of_another_page_or_none_is_404(staff_client, docs):
    install, guide = docs["install"], docs["guide"]
    other = f"{PAGES}{install.pk}/revisions/{guide.live_revision_id}/restore/"
    assert staff_client.post(other, {}, format="json").status_code == 404
    assert (
        staff_client.post(f"{PAGES}{install.pk}/revisions/nope/restore/", {}, format="json").status_code
        == 404
    )
    assert staff_client.get(f"{PAGES}00000000-0000-0000-0000-000000000000/revisions/").status_code == 404


def test_restoring_a_revision_whose_parent_is_gone_moves_the_page_to_the_top(staff_client, staff_user):
    old_parent = _page(staff_user, "Old home", version="5.0", is_published=False)
    new_parent = _page(staff_user, "New home", version="5.0", is_published=False)
    page = _page(staff_user, "Wanderer", version="5.0", parent=old_parent, is_published=False)
    first = page.live_revision_id
    staff_client.patch(f"{PAGES}{page.pk}/", {"parent": str(new_parent.pk)}, format="json")
    assert staff_client.delete(f"{PAGES}{old_parent.pk}/").status_code == 204
    response = staff_client.post(f"{PAGES}{page.pk}/revisions/{first}/restore/", {}, format="json")
    assert response.status_code == 200 and response.json()["parent"] is None


# --- the schema ----------------------------------------------------------------------------------


def test_the_schema_describes_the_docs_api():
    raw = schema.raw_schema
    pages, page = raw["paths"]["/api/docs/pages/"], raw["paths"]["/api/docs/pages/{page_id}/"]
    assert {} in pages["get"]["security"] and {} in page["get"]["security"]  # public reads
    for operation in (pages["post"], page["patch"], page["delete"]):
        assert {} not in operation["security"] and {"401", "403", "400"} <= set(operation["responses"])
    patch = raw["components"]["schemas"]["PatchedDocsPageUpdateRequest"]["properties"]
    assert patch["go_live_at"]["format"] == "date-time" and patch["draft"]["type"] == "boolean"
    assert patch["content"]["items"]["properties"]["type"]["enum"][0] == "paragraph"
    assert "/api/docs/pages/{page_id}/revisions/{revision_id}/restore/" in raw["paths"]


# --- fuzzing, as staff ---------------------------------------------------------------------------
# tests/agentwise/test_api_fuzz.py fuzzes every operation with a member's key: for the docs' writes that
# is a 403 before the body is read. Here a staff key reaches the services, on a real page and revision.

docs_schema = schema.include(path_regex=r"^/api/docs/pages/")
FUZZ_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def staff_fuzz(settings, api_key_for):
    settings.DEBUG = False
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    staff = StaffFactory()
    staff.profile.subscription_tier = "enterprise"
    staff.profile.save(update_fields=["subscription_tier"])
    parent = _page(staff, "Fuzz parent", version="2.0")
    target = _page(staff, "Fuzz target", version="2.0", parent=parent)
    services.documentation_update(actor=staff, page=target, fields={"title": "Fuzz target 2"}, draft=True)
    target.refresh_from_db()
    yield {
        "headers": {"Authorization": f"Bearer {api_key_for(staff, name='fuzz')}"},
        "path": {"page_id": str(target.pk), "revision_id": str(target.live_revision_id)},
    }
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@docs_schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_docs_api_conforms_to_its_schema_for_staff(case, staff_fuzz):
    """No request the schema allows is a server error; the generated ids point at a real page (a DELETE,
    at none, so the page stays for the other examples)."""
    names = [name for name in staff_fuzz["path"] if f"{{{name}}}" in case.operation.path]
    case.path_parameters = {name: staff_fuzz["path"][name] for name in names}
    if case.method.upper() == "DELETE" and names:  # (the fuzzer also tries other methods on each path)
        case.path_parameters["page_id"] = "00000000-0000-0000-0000-000000000000"
    case.call_and_validate(app=wsgi_app, headers=staff_fuzz["headers"], checks=FUZZ_CHECKS)


def test_the_fuzzer_reaches_every_docs_operation():
    operations = {
        (result.ok().method.upper(), result.ok().path) for result in docs_schema.get_all_operations()
    }
    assert operations == {
        ("GET", "/api/docs/pages/"),
        ("POST", "/api/docs/pages/"),
        ("GET", "/api/docs/pages/{page_id}/"),
        ("PATCH", "/api/docs/pages/{page_id}/"),
        ("DELETE", "/api/docs/pages/{page_id}/"),
        ("GET", "/api/docs/pages/{page_id}/revisions/"),
        ("POST", "/api/docs/pages/{page_id}/revisions/{revision_id}/restore/"),
    }


def test_go_live_at_at_the_edges(staff_fuzz):
    """As tests/agentwise/test_api_fuzz.py does for every date-time, with staff credentials: an instant UTC
    cannot hold is a 400 naming the field; any other offset is read as its instant (never a 500)."""
    operation = docs_schema["/api/docs/pages/{page_id}/"]["PATCH"]
    strategy = operation.as_strategy(path_parameters={"page_id": staff_fuzz["path"]["page_id"]})

    @given(case=strategy, value=EDGE_DATE_TIMES)
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case, value):
        case.body = {**(case.body if isinstance(case.body, dict) else {}), "go_live_at": value}
        response = case.call_and_validate(app=wsgi_app, headers=staff_fuzz["headers"], checks=FUZZ_CHECKS)
        named = response.status_code == 400 and "go_live_at" in response.json()["error"].get("fields", {})
        instant = _utc_instant(value)
        if instant is None:
            assert named, (
                f"{value} is outside UTC's years 1-9999, not refused: {response.status_code} {response.text}"
            )

    check()


def test_go_live_at_is_the_only_docs_date_time_input():
    found = set()
    for path, operations in schema.raw_schema["paths"].items():
        for method, operation in operations.items() if path.startswith("/api/docs/pages/") else ():
            body = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
            )
            if "$ref" in body:
                body = schema.raw_schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
            for name, prop in body.get("properties", {}).items():
                if prop.get("format") == "date-time" and not prop.get("readOnly"):
                    found.add((method.upper(), path, name))
    assert found == {("PATCH", "/api/docs/pages/{page_id}/", "go_live_at")}


def test_an_offset_is_read_as_its_instant(staff_client, docs):
    later = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    written = later.astimezone(timezone.get_fixed_timezone(-(15 * 60 + 59))).isoformat()
    response = staff_client.patch(f"{PAGES}{docs['install'].pk}/", {"go_live_at": written}, format="json")
    assert response.status_code == 200
    docs["install"].refresh_from_db()
    assert revisions.scheduled_revision(docs["install"]).go_live_at == later


def test_reading_a_docs_page_costs_the_same_for_anyone(api_client, staff_client, docs):
    counts = []
    for client in (api_client, staff_client):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{PAGES}{docs['install'].pk}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == 2  # the page, its version's paths


def test_restoring_into_a_slug_taken_since_is_a_400(staff_client, staff_user):
    page = _page(staff_user, "Setup", version="5.0", is_published=False)
    first = page.live_revision_id
    staff_client.patch(f"{PAGES}{page.pk}/", {"slug": "install"}, format="json")
    _page(staff_user, "Setup", version="5.0")  # takes the old slug
    response = staff_client.post(f"{PAGES}{page.pk}/revisions/{first}/restore/", {}, format="json")
    assert _error_fields(response) == {"slug"}
    response = staff_client.post(
        f"{PAGES}{page.pk}/revisions/{first}/restore/", {"publish": True}, format="json"
    )
    assert _error_fields(response) == {"slug"}
