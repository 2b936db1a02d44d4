"""Blog API: public reads, staff writes (401 anonymous, 403 members), drafts and schedules, revisions,
restore, field errors, and the schema fuzzed with a staff key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.core import signals
from django.db import close_old_connections
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
from content.models import BlogPost, PublicationStatus
from tests.agentwise.test_api_fuzz import EDGE_DATE_TIMES, _utc_instant, schema, wsgi_app

pytestmark = pytest.mark.django_db

POSTS = "/api/blog/posts/"
BODY = [{"type": "paragraph", "text": "Agents save tokens when they reuse context."}]


@pytest.fixture
def staff_client(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def staff_key_client(staff_user, api_key_for):
    """Staff through a real API key, as a CI job publishing posts would be."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(staff_user)}")
    return client


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def make_post(
    staff, title="Saving tokens", *, status=PublicationStatus.PUBLISHED, published_at=None, **fields
):
    return services.blog_post_create(
        actor=staff,
        fields={"title": title, "content": BODY, **fields},
        status=status,
        published_at=published_at,
    )


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [post["title"] for post in response.json()["results"]]


@pytest.fixture
def posts(staff_user):
    now = timezone.now()
    return {
        "public": make_post(staff_user, "Public", published_at=now - timedelta(days=1), tags=["agents"]),
        "draft": make_post(staff_user, "Draft", status=PublicationStatus.DRAFT),
        "scheduled": make_post(staff_user, "Scheduled", published_at=now + timedelta(days=1)),
        "archived": make_post(staff_user, "Archived", status=PublicationStatus.ARCHIVED),
    }


# --- reads -----------------------------------------------------------------------------------------


def test_the_public_and_members_read_published_posts_only(api_client, user_client, posts):
    for client in (api_client, user_client):
        response = client.get(POSTS)
        assert titles(response) == ["Public"]
        assert response.json()["count"] == 1
        for name in ("draft", "scheduled", "archived"):
            assert client.get(f"{POSTS}{posts[name].pk}/").status_code == 404
        # Filtering by status shows nothing more than they may see.
        assert titles(client.get(POSTS, {"status": "draft"})) == []


def test_a_public_post_in_full(api_client, posts, staff_user):
    response = api_client.get(f"{POSTS}{posts['public'].pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Public" and body["slug"] == "public" and body["url"] == "/blog/public/"
    assert body["content"] == BODY
    assert body["content_html"].strip() == "<p>Agents save tokens when they reuse context.</p>"
    assert body["status"] == "published" and body["is_public"] is True
    assert body["tags"] == ["agents"] and body["seo_meta"] == {}
    assert body["author"] == {"id": str(staff_user.pk), "username": staff_user.username}
    assert body["reading_time"] == 1 and body["view_count"] == 0
    assert body["published_at"].endswith("Z") and body["created_at"].endswith("Z")
    # What staff keep for themselves.
    assert body["has_unpublished_changes"] is None and body["go_live_at"] is None


@pytest.mark.parametrize("who", ["staff_client", "staff_key_client"])
def test_staff_see_every_post_and_filter_by_status(request, who, posts):
    client = request.getfixturevalue(who)
    assert sorted(titles(client.get(POSTS))) == ["Archived", "Draft", "Public", "Scheduled"]
    assert titles(client.get(POSTS, {"status": "published"})) == ["Public"]
    assert titles(client.get(POSTS, {"status": "scheduled"})) == ["Scheduled"]
    assert titles(client.get(POSTS, {"status": "draft"})) == ["Draft"]
    assert titles(client.get(POSTS, {"status": "archived"})) == ["Archived"]
    draft = client.get(f"{POSTS}{posts['draft'].pk}/").json()
    assert (
        draft["status"] == "draft"
        and draft["is_public"] is False
        and draft["has_unpublished_changes"] is False
    )


def test_tag_and_slug_filters_and_pagination(api_client, staff_user):
    now = timezone.now()
    for number in range(5):
        make_post(
            staff_user, f"Post {number}", published_at=now - timedelta(hours=number + 1), tags=["Token Costs"]
        )
    make_post(staff_user, "Other", published_at=now - timedelta(days=2), tags=["agents"])
    assert titles(api_client.get(POSTS, {"tag": "token-costs"})) == [f"Post {n}" for n in range(5)]
    assert titles(api_client.get(POSTS, {"tag": "Token Costs"})) == [f"Post {n}" for n in range(5)]
    assert titles(api_client.get(POSTS, {"tag": "nothing"})) == []
    assert titles(api_client.get(POSTS, {"slug": "other"})) == ["Other"]
    page = api_client.get(POSTS, {"page_size": 2, "page": 2}).json()
    assert page["count"] == 6 and [p["title"] for p in page["results"]] == ["Post 2", "Post 3"]
    assert api_client.get(POSTS, {"page": 9}).status_code == 404


@pytest.mark.parametrize(
    "params",
    [{"status": "nope"}, {"tag": ""}, {"tag": "   "}, {"tag": "x" * 51}, {"page": "x"}, {"page_size": 500}],
)
def test_bad_filters_are_400s(api_client, params):
    response = api_client.get(POSTS, params)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(params)


def test_a_malformed_or_unknown_id_is_a_404(api_client, staff_client):
    for client in (api_client, staff_client):
        assert client.get(f"{POSTS}not-a-uuid/").status_code == 404
        assert client.get(f"{POSTS}00000000-0000-0000-0000-000000000000/").status_code == 404


# --- writes: who -----------------------------------------------------------------------------------


def test_writes_are_401_for_anonymous_and_403_for_members(api_client, user_client, key_client, posts):
    post = posts["public"]
    for client, expected in ((api_client, 401), (user_client, 403), (key_client, 403)):
        # Asked before the body is read: an invalid body gets the same answer.
        assert client.post(POSTS, {"title": "x"}, format="json").status_code == expected
        assert client.post(POSTS, {"content": "junk"}, format="json").status_code == expected
        assert client.patch(f"{POSTS}{post.pk}/", {"title": "x"}, format="json").status_code == expected
        assert client.delete(f"{POSTS}{post.pk}/").status_code == expected
        assert client.get(f"{POSTS}{post.pk}/revisions/").status_code == expected
        restore = f"{POSTS}{post.pk}/revisions/{post.live_revision_id}/restore/"
        assert client.post(restore, {}, format="json").status_code == expected
    assert (
        api_client.post(POSTS, {"title": "x"}, format="json").json()["error"]["code"] == "not_authenticated"
    )
    assert BlogPost.objects.count() == 4
    post.refresh_from_db()
    assert post.title == "Public"


@pytest.mark.parametrize("who", ["staff_client", "staff_key_client"])
def test_staff_create_a_post(request, who, staff_user):
    client = request.getfixturevalue(who)
    response = client.post(
        POSTS,
        {
            "title": "Five habits",
            "content": [
                {"type": "heading", "text": "Scope the task"},
                {"type": "paragraph", "text": "Say what **done** means."},
                {"type": "code", "language": "bash", "text": "pytest -x"},
            ],
            "tags": ["Agents", "workflow", "agents"],
            "seo_meta": {"title": "Habits for agents", "noindex": False},
            "status": "published",
            "change_summary": "First version",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "five-habits" and body["excerpt"] == "Say what done means."
    assert body["tags"] == ["agents", "workflow"] and body["is_public"] is True
    assert body["seo_meta"] == {"title": "Habits for agents", "noindex": False}
    assert body["content"][0] == {"type": "heading", "text": "Scope the task", "level": 2}
    assert body["author"]["username"] == staff_user.username
    assert body["has_unpublished_changes"] is False
    post = BlogPost.objects.get(pk=body["id"])
    assert post.revisions.get().change_summary == "First version"
    # A draft by default.
    assert client.post(POSTS, {"title": "Later"}, format="json").json()["status"] == "draft"


def test_a_scheduled_post_over_the_api(staff_client, api_client, time_machine):
    time_machine.move_to("2026-03-01T08:00:00Z", tick=False)
    response = staff_client.post(
        POSTS,
        {"title": "Spring", "status": "published", "published_at": "2026-03-01T09:00:00+01:00"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["published_at"] == "2026-03-01T08:00:00Z" and response.json()["is_public"] is True
    response = staff_client.post(
        POSTS,
        {"title": "Summer", "status": "published", "published_at": "2026-06-01T00:00:00Z"},
        format="json",
    )
    assert response.json()["is_public"] is False
    assert titles(api_client.get(POSTS)) == ["Spring"]
    time_machine.move_to("2026-06-01T00:00:01Z", tick=False)
    assert titles(api_client.get(POSTS)) == ["Summer", "Spring"]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({}, "title", "required"),
        ({"title": "   "}, "title", "blank"),
        ({"title": "a\x00b"}, "title", "Null characters"),
        ({"title": "x" * 256}, "title", "255"),
        ({"title": "x", "slug": "Not A Slug"}, "slug", ""),
        ({"title": "x", "slug": "feed"}, "slug", "reserved"),
        ({"title": "x", "content": "text"}, "content", "list of blocks"),
        (
            {
                "title": "x",
                "content": [{"type": "paragraph", "text": "ok"}, {"type": "image", "url": "/a.png"}],
            },
            "content",
            "Block 2 (image): “alt” is required.",
        ),
        ({"title": "x", "content": [{"type": "video"}]}, "content", "Block 1 (video): unknown type"),
        ({"title": "x", "content": [{"type": "paragraph", "text": "a\x00"}]}, "content", "NUL"),
        (
            {"title": "x", "content": [{"type": "embed", "url": "https://evil.example/v"}]},
            "content",
            "Block 1 (embed)",
        ),
        ({"title": "x", "tags": ["agents", "!!!"]}, "tags", "usable tag"),
        ({"title": "x", "tags": ["a"] * 21}, "tags", "20"),
        ({"title": "x", "featured_image": "javascript:alert(1)"}, "featured_image", ""),
        ({"title": "x", "seo_meta": {"canonical": "//evil.example/"}}, "seo_meta", ""),
        ({"title": "x", "seo_meta": {"noindex": "yes"}}, "seo_meta", ""),
        ({"title": "x", "seo_meta": []}, "seo_meta", ""),
        ({"title": "x", "status": "live"}, "status", ""),
        ({"title": "x", "published_at": "2026-01-01T00:00:00+24:00"}, "published_at", ""),
        ({"title": "x", "published_at": "0001-01-01T00:30:00+01:00"}, "published_at", "out of range"),
        ({"title": "x", "published_at": "yesterday"}, "published_at", ""),
        ({"title": "x", "reading_time": "5"}, "reading_time", ""),
    ],
)
def test_bad_input_is_a_400_naming_the_field(staff_client, payload, field, message):
    response = staff_client.post(POSTS, payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"], error
    assert message in " ".join(map(str, error["fields"][field])), error
    assert BlogPost.objects.count() == 0


def test_a_script_in_a_block_never_reaches_the_html(staff_client):
    content = [
        {
            "type": "paragraph",
            "text": "<script>alert(1)</script> [click](javascript:alert(2)) [ok](https://a.example)",
        },
        {"type": "quote", "text": "<img src=x onerror=alert(3)>", "attribution": "<b>me</b>"},
        {"type": "callout", "text": "<iframe src=//evil></iframe>"},
    ]
    body = staff_client.post(POSTS, {"title": "Hostile", "content": content}, format="json").json()
    tags, hrefs = [], []

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append(tag)
            hrefs.extend(value for name, value in attrs if name == "href")
            assert not [name for name, _ in attrs if name.startswith("on")]

    Reader().feed(body["content_html"])
    assert not {"script", "img", "iframe", "b"} & set(tags)
    assert hrefs == ["https://a.example"]  # the javascript: link stays text


# --- writes: changes, drafts, schedules ------------------------------------------------------------


def test_staff_change_a_live_post_and_the_page_follows(staff_client, client, posts, commit):
    post = posts["public"]
    assert "Public" in client.get("/blog/public/").content.decode()  # cached
    with commit():
        response = staff_client.patch(
            f"{POSTS}{post.pk}/", {"title": "Public, revised", "change_summary": "Sharper"}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["title"] == "Public, revised"
    assert "Public, revised" in client.get("/blog/public/").content.decode()
    assert response.json()["slug"] == "public"  # a title change keeps the URL


def test_a_draft_revision_over_a_live_post(staff_client, api_client, posts, commit):
    post = posts["public"]
    with commit():
        response = staff_client.patch(
            f"{POSTS}{post.pk}/",
            {"title": "Next version", "draft": True, "change_summary": "Draft"},
            format="json",
        )
    assert response.status_code == 200
    body = response.json()
    assert (
        body["title"] == "Public" and body["has_unpublished_changes"] is True and body["go_live_at"] is None
    )
    assert api_client.get(f"{POSTS}{post.pk}/").json()["title"] == "Public"
    # Publishing it: restore the draft revision with publish.
    draft = revisions.draft_revision(BlogPost.objects.get(pk=post.pk))
    with commit():
        response = staff_client.post(
            f"{POSTS}{post.pk}/revisions/{draft.pk}/restore/", {"publish": True}, format="json"
        )
    assert response.status_code == 200 and response.json()["title"] == "Next version"
    assert response.json()["has_unpublished_changes"] is False
    assert api_client.get(f"{POSTS}{post.pk}/").json()["title"] == "Next version"


def test_a_scheduled_draft_revision(staff_client, api_client, staff_user, time_machine, commit):
    time_machine.move_to("2026-10-10T10:00:00Z", tick=False)
    post = make_post(staff_user, "Public")
    with commit():
        response = staff_client.patch(
            f"{POSTS}{post.pk}/",
            {"title": "Autumn", "go_live_at": "2026-10-10T12:30:00+02:00"},
            format="json",
        )
    assert response.status_code == 200
    assert response.json()["go_live_at"] == "2026-10-10T10:30:00Z" and response.json()["title"] == "Public"
    time_machine.move_to("2026-10-10T10:31:00Z", tick=False)
    with commit():
        services.publish_due()
    assert api_client.get(f"{POSTS}{post.pk}/").json()["title"] == "Autumn"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "non_field_errors"),
        ({"change_summary": "only a summary"}, "non_field_errors"),
        ({"title": "x", "draft": True, "status": "archived"}, "draft"),
        ({"title": "x", "go_live_at": "2020-01-01T00:00:00Z"}, "go_live_at"),
        ({"title": "x", "go_live_at": "9999-12-31T23:00:00-05:00"}, "go_live_at"),
        ({"title": "x", "draft": "yes"}, "draft"),
    ],
)
def test_bad_changes_are_400s(staff_client, posts, payload, field):
    response = staff_client.patch(f"{POSTS}{posts['public'].pk}/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_only_a_published_posts_draft_can_be_scheduled(staff_client, posts):
    response = staff_client.patch(
        f"{POSTS}{posts['draft'].pk}/",
        {"title": "x", "go_live_at": (timezone.now() + timedelta(days=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 400 and "go_live_at" in response.json()["error"]["fields"]


def test_staff_delete_a_post(staff_client, staff_key_client, posts, client, commit):
    client.get("/blog/public/")
    with commit():
        assert staff_client.delete(f"{POSTS}{posts['public'].pk}/").status_code == 204
    assert staff_client.get(f"{POSTS}{posts['public'].pk}/").status_code == 404
    assert client.get("/blog/public/").status_code == 404
    assert staff_key_client.delete(f"{POSTS}{posts['draft'].pk}/").status_code == 204
    assert staff_client.delete(f"{POSTS}{posts['draft'].pk}/").status_code == 404


# --- revisions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["staff_client", "staff_key_client"])
def test_the_revision_history_and_restore(request, who, posts, api_client):
    client = request.getfixturevalue(who)
    post = posts["public"]
    for title in ("Second", "Third"):
        assert (
            client.patch(
                f"{POSTS}{post.pk}/", {"title": title, "change_summary": title}, format="json"
            ).status_code
            == 200
        )
    history = client.get(f"{POSTS}{post.pk}/revisions/", {"page_size": 2})
    assert history.status_code == 200
    page = history.json()
    assert page["count"] == 3 and page["next"]
    newest = page["results"][0]
    assert newest["title"] == "Third" and newest["change_summary"] == "Third"
    assert newest["is_live"] is True and newest["is_latest"] is True and newest["published_at"].endswith("Z")
    assert page["results"][1]["is_live"] is False
    first = client.get(f"{POSTS}{post.pk}/revisions/", {"page": 2, "page_size": 2}).json()["results"][0]
    assert first["title"] == "Public" and first["change_summary"] == "Created"

    # Restoring onto a live post without publishing: a draft; the public sees no change.
    response = client.post(f"{POSTS}{post.pk}/revisions/{first['id']}/restore/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Third" and response.json()["has_unpublished_changes"] is True
    assert api_client.get(f"{POSTS}{post.pk}/").json()["title"] == "Third"
    # With publish: live now. History only grew.
    response = client.post(
        f"{POSTS}{post.pk}/revisions/{first['id']}/restore/",
        {"publish": True, "change_summary": "Back"},
        format="json",
    )
    assert response.json()["title"] == "Public"
    assert client.get(f"{POSTS}{post.pk}/revisions/").json()["count"] == 5


def test_restore_refuses_a_revision_of_another_post_and_bad_bodies(staff_client, posts):
    one, other = posts["public"], posts["draft"]
    url = f"{POSTS}{one.pk}/revisions/{other.live_revision_id}/restore/"
    assert staff_client.post(url, {}, format="json").status_code == 404
    assert staff_client.post(f"{POSTS}{one.pk}/revisions/nope/restore/", {}, format="json").status_code == 404
    good = f"{POSTS}{one.pk}/revisions/{one.live_revision_id}/restore/"
    response = staff_client.post(good, {"publish": "yes"}, format="json")
    assert response.status_code == 400 and "publish" in response.json()["error"]["fields"]
    assert staff_client.get(f"{POSTS}nope/revisions/").status_code == 404


# --- the schema, fuzzed with a staff key ------------------------------------------------------------
# tests/agentwise/test_api_fuzz.py fuzzes every operation with a member's key; for the blog's writes that
# is a 403 before the body is read. Here a staff key reaches the services, on a real post and revision.

blog_schema = schema.include(path_regex=r"^/api/blog/")
FUZZ_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def staff_fuzz(staff_user, api_key_for, settings):
    settings.DEBUG = False
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    staff_user.profile.subscription_tier = "enterprise"
    staff_user.profile.save(update_fields=["subscription_tier"])
    post = make_post(staff_user, "Fuzzed", tags=["agents"])
    services.blog_post_update(actor=staff_user, post=post, fields={"title": "Fuzzed again"}, draft=True)
    post.refresh_from_db()
    yield {
        "headers": {"Authorization": f"Bearer {api_key_for(staff_user, name='fuzz')}"},
        "path": {"post_id": str(post.pk), "revision_id": str(post.latest_revision_id)},
    }
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@blog_schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_blog_api_conforms_to_its_schema_for_staff(case, staff_fuzz):
    if case.method == "DELETE":
        case.path_parameters = {
            **(case.path_parameters or {}),
            "post_id": "00000000-0000-0000-0000-000000000000",
        }
    elif case.path_parameters:
        case.path_parameters = {
            **case.path_parameters,
            **{k: staff_fuzz["path"][k] for k in case.path_parameters},
        }
    case.call_and_validate(app=wsgi_app, headers=staff_fuzz["headers"], checks=FUZZ_CHECKS)


BLOG_DATE_TIMES = [
    ("POST", "/api/blog/posts/", "published_at"),
    ("PATCH", "/api/blog/posts/{post_id}/", "published_at"),
    ("PATCH", "/api/blog/posts/{post_id}/", "go_live_at"),
]


@pytest.mark.parametrize(("method", "path", "name"), BLOG_DATE_TIMES)
def test_blog_date_times_at_the_edges(method, path, name, staff_fuzz):
    """As tests/agentwise/test_api_fuzz.py does for every date-time, with staff credentials: an instant UTC
    cannot hold is a 400 naming the field, any other offset is read as its instant (never a 500)."""
    operation = blog_schema[path][method]
    strategy = operation.as_strategy(
        path_parameters={n: staff_fuzz["path"][n] for n in (p.name for p in operation.path_parameters)}
    )

    @given(case=strategy, value=EDGE_DATE_TIMES)
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case, value):
        case.body = {**(case.body if isinstance(case.body, dict) else {}), name: value}
        if name == "go_live_at":
            case.body.pop("status", None)
            case.body.pop("published_at", None)
        response = case.call_and_validate(app=wsgi_app, headers=staff_fuzz["headers"], checks=FUZZ_CHECKS)
        named = response.status_code == 400 and name in response.json()["error"].get("fields", {})
        if _utc_instant(value) is None:
            assert named, (
                f"{value} is outside UTC's years 1-9999, not refused: {response.status_code} {response.text}"
            )

    check()


def test_every_blog_date_time_input_is_covered():
    found = set()
    for path, operations in schema.raw_schema["paths"].items():
        if not path.startswith("/api/blog/"):
            continue
        for method, operation in operations.items():
            body = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
            )
            if "$ref" in body:
                body = schema.raw_schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
            for prop_name, prop in body.get("properties", {}).items():
                if prop.get("format") == "date-time" and not prop.get("readOnly"):
                    found.add((method.upper(), path, prop_name))
    assert found == set(BLOG_DATE_TIMES)


def test_utc_instants_are_stored_as_such(staff_client):
    response = staff_client.post(
        POSTS, {"title": "x", "status": "draft", "published_at": "2030-01-01T00:00:00-15:59"}, format="json"
    )
    assert response.status_code == 201
    assert BlogPost.objects.get().published_at == datetime(2030, 1, 1, 15, 59, tzinfo=UTC)
