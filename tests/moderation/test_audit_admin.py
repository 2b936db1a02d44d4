"""The Django admin: every add, change and delete is audited with the changed fields; the audit log's own
admin is append-only (even for a superuser), filters, and exports CSV safely and in constant memory."""

import csv
import io
import json

import pytest
from django import forms as forms_module
from django.contrib.auth.models import Group
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from community.models import Channel, ChannelMember
from moderation.admin.audit import csv_cell
from moderation.audit import audit_record
from moderation.models import AuditLog
from tests.factories import StaffFactory, UserFactory

from .audit_support import one_audit_row

pytestmark = pytest.mark.django_db

BROWSER = {"REMOTE_ADDR": "198.51.100.40", "HTTP_USER_AGENT": "Mozilla/5.0 (admin)"}
CHANGELIST = "/admin/moderation/auditlog/"
EXPORT = "/admin/moderation/auditlog/export.csv"


@pytest.fixture
def superuser(db):
    return StaffFactory(is_superuser=True, username="root")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _form_data(response) -> dict:
    """What a browser posts back from an admin change form: the main form and every inline, as shown."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(name): field.initial if field.initial is not None else management.initial.get(name)
                     for name, field in management.fields.items()})
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            if field.disabled or isinstance(field, forms_module.FileField):
                continue
            value = form[name].value()  # as rendered (prepared) in the page
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = value
            if field.show_hidden_initial:  # a callable default: the page carries the initial value too
                data[form.add_initial_prefix(name)] = value
    return data


# --- Admin actions are audited -------------------------------------------------------------------------


def test_admin_change_records_the_changed_fields(admin_client, superuser):
    channel = Channel.objects.create(name="general", category="Community")
    url = f"/admin/community/channel/{channel.pk}/change/"
    data = _form_data(admin_client.get(url))
    data.update(name="general-chat", description="Talk here")
    with one_audit_row("admin.change") as written:
        response = admin_client.post(url, data, **BROWSER)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    row = written.row
    assert (row.actor, row.resource_type, row.resource_id) == (superuser, "community.channel", str(channel.pk))
    assert sorted(row.metadata["changed_fields"]) == ["Description", "Name"]
    channel.refresh_from_db()
    assert row.metadata["object_repr"] == str(channel)
    assert (row.ip_address, row.user_agent) == ("198.51.100.40", "Mozilla/5.0 (admin)")


def test_admin_inline_changes_are_listed_and_membership_is_audited(admin_client):
    channel = Channel.objects.create(name="staff-room", category="Staff", is_private=True)
    newcomer = UserFactory()
    url = f"/admin/community/channel/{channel.pk}/change/"
    data = _form_data(admin_client.get(url))
    prefix = next(key[: -len("-TOTAL_FORMS")] for key in data if key.endswith("-TOTAL_FORMS"))
    data[f"{prefix}-TOTAL_FORMS"] = "1"
    data[f"{prefix}-0-user"] = str(newcomer.pk)
    with one_audit_row("admin.change") as written:
        response = admin_client.post(url, data, **BROWSER)
    assert response.status_code == 302
    assert ChannelMember.objects.filter(channel=channel, user=newcomer).exists()
    assert written.row.metadata["changed_fields"] == []
    assert written.row.metadata["related"][0]["action"] == "added"
    assert AuditLog.objects.get(action="channel_member.add").metadata == {"user_id": str(newcomer.pk)}


def test_admin_add_and_delete_are_recorded(admin_client, superuser):
    with one_audit_row("admin.add") as added:
        response = admin_client.post("/admin/auth/group/add/", {"name": "Reviewers"}, **BROWSER)
    assert response.status_code == 302
    group = Group.objects.get(name="Reviewers")
    assert (added.row.actor, added.row.resource_type, added.row.resource_id) == (superuser, "auth.group", str(group.pk))
    with one_audit_row("admin.delete") as deleted:
        response = admin_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}, **BROWSER)
    assert response.status_code == 302
    assert (deleted.row.resource_id, deleted.row.metadata["object_repr"]) == (str(group.pk), "Reviewers")


def test_bulk_delete_selected_records_each_object_in_one_insert(admin_client):
    groups = [Group.objects.create(name=f"g{i}") for i in range(3)]
    before = AuditLog.objects.count()
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post("/admin/auth/group/", {
            "action": "delete_selected", "post": "yes", "_selected_action": [str(g.pk) for g in groups]}, **BROWSER)
    assert response.status_code == 302
    rows = AuditLog.objects.filter(action="admin.delete")
    assert AuditLog.objects.count() - before == 3
    assert sorted(rows.values_list("resource_id", flat=True)) == sorted(str(g.pk) for g in groups)
    assert len([q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "audit_logs"')]) == 1


def test_admin_user_change_records_fields_but_never_values(admin_client):
    target = UserFactory(username="renamed", email="before@example.com")
    url = f"/admin/accounts/user/{target.pk}/change/"
    data = _form_data(admin_client.get(url))
    data["email"] = "after@example.com"
    with one_audit_row("admin.change") as written:
        response = admin_client.post(url, data, **BROWSER)
    assert response.status_code == 302
    assert written.row.metadata["changed_fields"] == ["Email address"]
    assert "after@example.com" not in json.dumps(written.row.metadata)


# --- The audit log's admin is append-only ----------------------------------------------------------------


def test_superuser_can_view_but_not_add_change_or_delete(admin_client, superuser):
    row = audit_record("test.row", actor=superuser, metadata={"note": "<script>alert(1)</script>"})
    change_url = f"{CHANGELIST}{row.pk}/change/"
    page = admin_client.get(change_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert admin_client.post(change_url, {"action": "forged.action"}).status_code == 403
    assert admin_client.get(f"{CHANGELIST}{row.pk}/delete/").status_code == 403
    assert admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    response = admin_client.post(CHANGELIST, {"action": "delete_selected", "post": "yes", "_selected_action": [str(row.pk)]})
    assert response.status_code in (200, 302)  # no such action: nothing happens
    assert AuditLog.objects.get(pk=row.pk).action == "test.row"


def test_members_cannot_see_the_log(client):
    client.force_login(UserFactory())
    assert client.get(CHANGELIST).status_code in (302, 403)
    assert client.get(EXPORT).status_code in (302, 403)


def _seed(n, actor, action="test.seed"):
    for i in range(n):
        audit_record(action, actor=actor, resource=actor, metadata={"i": i})


def test_changelist_query_count_does_not_grow_with_rows(admin_client, superuser):
    _seed(2, UserFactory())
    admin_client.get(CHANGELIST)  # the first request of a session also records the session (allauth)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    for _ in range(5):
        _seed(4, UserFactory())
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(CHANGELIST).status_code == 200
    assert len(many) == len(few)


def test_changelist_filters_by_actor_action_resource_and_date_and_searches(admin_client):
    alice, bob = UserFactory(username="alice", email="alice@example.com"), UserFactory(username="bob")
    _seed(1, alice, "api_key.create")
    _seed(1, bob, "api_key.revoke")

    def listed(**params):
        response = admin_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return {row.action for row in response.context["cl"].result_list if row.action.startswith("api_key")}

    assert listed(actor__id__exact=str(alice.pk)) == {"api_key.create"}
    assert listed(action="api_key.revoke") == {"api_key.revoke"}
    assert listed(q="alice@example.com") == {"api_key.create"}
    assert listed(q=str(bob.pk)) == {"api_key.revoke"}  # the resource id
    assert listed(resource_type="accounts.user") == {"api_key.create", "api_key.revoke"}
    row = AuditLog.objects.filter(action="api_key.create").get()
    assert listed(created_at__year=str(row.created_at.year)) == {"api_key.create", "api_key.revoke"}
    assert listed(created_at__year=str(row.created_at.year - 1)) == set()
    html = admin_client.get(CHANGELIST).content.decode()
    assert "Export CSV" in html and f"?actor__id__exact={alice.pk}" in html


# --- CSV export -------------------------------------------------------------------------------------------


def _csv(response):
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_streams_the_filtered_rows(admin_client):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    _seed(3, alice, "api_key.create")
    _seed(2, bob, "api_key.revoke")
    rows = _csv(admin_client.get(EXPORT, {"action": "api_key.create"}))
    assert len(rows) == 3
    assert {row["actor"] for row in rows} == {"alice"}
    assert rows[0]["resource_type"] == "accounts.user" and json.loads(rows[0]["metadata"])["i"] in (0, 1, 2)
    all_rows = _csv(admin_client.get(EXPORT))
    assert {"api_key.create", "api_key.revoke"} <= {row["action"] for row in all_rows}


def test_export_guards_against_formula_injection(admin_client):
    audit_record("=HYPERLINK(\"http://evil\")", resource_type="+cmd", resource_id="-2+3", metadata={})
    audit_record("ok", resource_id="@SUM(A1)")
    rows = {row["action"]: row for row in _csv(admin_client.get(EXPORT))}
    evil = rows["'=HYPERLINK(\"http://evil\")"]
    assert (evil["resource_type"], evil["resource_id"]) == ("'+cmd", "'-2+3")
    assert rows["ok"]["resource_id"] == "'@SUM(A1)"
    assert csv_cell("plain") == "plain" and csv_cell(None) == "" and csv_cell("\tx") == "'\tx"


def test_export_with_an_unknown_filter_is_a_400(admin_client):
    assert admin_client.get(EXPORT, {"no_such_field__gt": "1"}).status_code == 400


def test_export_reads_in_chunks_with_constant_query_count(admin_client):
    """The rows are read with a server-side cursor (PostgreSQL) or chunked fetches: the count of queries
    does not depend on how many rows there are."""
    _seed(5, UserFactory())
    admin_client.get(CHANGELIST)  # the first request of a session also records the session (allauth)
    with CaptureQueriesContext(connection) as few:
        _csv(admin_client.get(EXPORT))
    _seed(50, UserFactory())
    with CaptureQueriesContext(connection) as many:
        assert len(_csv(admin_client.get(EXPORT))) >= 55
    assert len(many) == len(few)
