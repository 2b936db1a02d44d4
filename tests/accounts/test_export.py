"""Your data: an export holds exactly the member's own data, is requested and downloaded only from their
signed-in browser session, at most once a day, through a signed link that works for 7 days."""

from __future__ import annotations

import io
import json
import re
import tempfile
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.export import SECTION_COUNT, SECTIONS, export_write
from accounts.models import DataExport, DataExportStatus
from accounts.notifications import notification_send
from accounts.tasks import data_export_build_task, data_exports_tidy_task
from agentwise.models import OutboundEmail
from community import services as community_services
from community.models import Channel, ChannelMember, ChannelType
from content.models import Subscriber
from moderation.audit import audit_record
from moderation.models import AuditLog
from moderation.reports import report_create
from projects import services as project_services
from projects.models import AgentExecution, ExecutionStatus, Project
from tests.factories import StaffFactory, UserFactory, make_api_key, sign_in

pytestmark = pytest.mark.django_db

API = "/api/me/export/"
PAGE = "/account/export/"
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


@pytest.fixture
def at(time_machine):
    """Moves the frozen clock: ``at(datetime)``."""

    def move(instant):
        time_machine.move_to(instant, tick=False)

    move(NOON)
    return move


def session_for(user) -> APIClient:
    return sign_in(APIClient(), user)


def page_for(user) -> Client:
    return sign_in(Client(), user)


def request_and_build(client, django_capture_on_commit_callbacks, path=API):
    """POSTs the request; the on-commit task runs (eagerly) and so does the email it queues."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path)
    return response


def read_zip(export: DataExport) -> dict[str, bytes]:
    with default_storage.open(export.file_path, "rb") as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --- what the zip holds ------------------------------------------------------------------------------


@pytest.fixture
def seeded(settings):
    """Alice and Bob share a project, a public channel, a private channel and a forum; each has their own
    data everywhere. Bob's texts all carry BOBSECRET, so any leak into Alice's export is easy to find."""
    alice = UserFactory(username="alice", email="alice@example.com")
    bob = UserFactory(username="bob", email="bob@example.com")
    EmailAddress.objects.create(user=alice, email="alice.alt@example.com", verified=False, primary=False)
    EmailAddress.objects.create(user=bob, email="bob.alt.bobsecret@example.com", verified=False, primary=False)
    make_api_key(alice, name="alice laptop")
    make_api_key(bob, name="BOBSECRET key")
    alice.profile.bio = "Alice builds agents."
    alice.profile.avatar = SimpleUploadedFile("me.png", PNG, content_type="image/png")
    alice.profile.save()

    project = project_services.project_create(actor=alice, data={"name": "Apollo", "type": "cli"})
    bobs_project = project_services.project_create(actor=bob, data={"name": "BOBSECRET project"})
    invitation = project_services.collaborator_invite(actor=alice, project=project, invitee=bob, role="editor")
    project_services.invitation_accept(actor=bob, invitation=invitation)
    invitation = project_services.collaborator_invite(actor=bob, project=bobs_project, invitee=alice, role="viewer")
    project_services.invitation_accept(actor=alice, invitation=invitation)
    run = {"agent_type": "claude-code", "status": "completed", "input_tokens": 100, "output_tokens": 10}
    alice_run = project_services.execution_record(actor=alice, project=project, data=run)[0]
    bob_run = project_services.execution_record(actor=bob, project=project, data={**run, "command": "BOBSECRET"})[0]
    project_services.budget_set(actor=alice, metric="tokens", monthly_limit=1000)
    project_services.budget_set(actor=bob, metric="cost", monthly_limit=7777777)

    public = Channel.objects.create(name="general", category="Community", position=0)
    private = Channel.objects.create(name="inner-circle", category="Community", is_private=True)
    ChannelMember.objects.create(channel=private, user=alice)
    ChannelMember.objects.create(channel=private, user=bob)
    alice_file = community_services.attachment_upload(
        actor=alice, upload=SimpleUploadedFile("dot.png", PNG, content_type="image/png"))
    community_services.attachment_upload(actor=bob, upload=SimpleUploadedFile("bobsecret.png", PNG, content_type="image/png"))
    alice_message = community_services.message_post(
        actor=alice, channel=public, content="Hello from Alice", attachment_ids=[str(alice_file.pk)])
    community_services.message_edit(actor=alice, message=alice_message, content="Hello from Alice, edited")
    community_services.message_post(actor=alice, channel=private, content="Alice whispers")
    bob_message = community_services.message_post(actor=bob, channel=private, content="BOBSECRET whisper")
    community_services.message_edit(actor=bob, message=bob_message, content="BOBSECRET whisper, edited")
    community_services.reaction_toggle(actor=alice, message=alice_message, emoji="🎉")
    community_services.reaction_toggle(actor=bob, message=bob_message, emoji="👀")

    forum = Channel.objects.create(name="help", category="Forum", type=ChannelType.FORUM)
    topic = community_services.forum_post_create(actor=alice, channel=forum, title="Alice asks", content="How?")
    community_services.forum_post_update(actor=alice, post=topic, data={"content": "How, exactly?"})
    alice_reply = community_services.forum_reply_create(actor=alice, post=topic, content="Alice adds detail")
    bob_topic = community_services.forum_post_create(actor=bob, channel=forum, title="BOBSECRET topic", content="BOBSECRET")
    community_services.forum_reply_create(actor=bob, post=bob_topic, content="BOBSECRET reply")
    community_services.forum_reaction_toggle(actor=alice, target=alice_reply, emoji="👍")
    community_services.forum_reaction_toggle(actor=bob, target=bob_topic, emoji="🚀")

    notification_send(user=alice, kind="mention", title="Alice's notice")
    notification_send(user=bob, kind="mention", title="BOBSECRET notice")
    Subscriber.objects.create(email=alice.email, user=alice, status="active", confirmed_at=timezone.now())
    Subscriber.objects.create(email=bob.email, user=bob, status="active", confirmed_at=timezone.now())
    report_create(actor=alice, content_type="forum_post", content_id=str(bob_topic.pk), reason="spam")
    report_create(actor=bob, content_type="forum_post", content_id=str(topic.pk), reason="BOBSECRET reason")
    audit_record("test.alice", actor=alice, metadata={"note": "alice did it"})
    audit_record("test.bob", actor=bob, metadata={"note": "BOBSECRET"})
    return {"alice": alice, "bob": bob, "project": project, "bobs_project": bobs_project, "alice_run": alice_run,
            "bob_run": bob_run, "alice_message": alice_message, "bob_message": bob_message, "topic": topic,
            "bob_topic": bob_topic, "alice_file": alice_file}


def build_for(user) -> dict[str, bytes]:
    with tempfile.TemporaryFile() as target:
        export_write(user=user, target=target, exported_at=timezone.now())
        target.seek(0)
        with zipfile.ZipFile(target) as archive:
            return {name: archive.read(name) for name in archive.namelist()}


def test_the_zip_holds_a_readme_and_one_json_file_per_domain(seeded):
    files = build_for(seeded["alice"])
    expected = {"README.txt", "files.json", *(section.filename for section in SECTIONS)}
    assert expected <= set(files)
    readme = files["README.txt"].decode()
    for name in expected - {"README.txt"}:
        assert name in readme, name  # the README says what each file is
    for name in expected - {"README.txt"}:
        json.loads(files[name])  # every JSON file is valid JSON
    assert SECTION_COUNT == len(SECTIONS) + 1


def test_the_export_holds_exactly_the_members_own_data(seeded):
    alice, bob = seeded["alice"], seeded["bob"]
    files = build_for(alice)
    data = {name: json.loads(body) for name, body in files.items() if name.endswith(".json")}

    assert data["profile.json"]["account"]["email"] == "alice@example.com"
    assert data["profile.json"]["profile"]["bio"] == "Alice builds agents."
    assert {row["email"] for row in data["email_addresses.json"]["email_addresses"]} == {
        "alice@example.com", "alice.alt@example.com"}
    assert [row["name"] for row in data["api_keys.json"]["api_keys"]] == ["alice laptop"]
    assert [row["name"] for row in data["projects.json"]["owned_projects"]] == ["Apollo"]
    assert data["projects.json"]["collaborations"] == [
        {**data["projects.json"]["collaborations"][0], "project_id": str(seeded["bobs_project"].pk), "role": "viewer"}]
    assert [row["id"] for row in data["agent_runs.json"]["agent_runs"]] == [str(seeded["alice_run"].pk)]
    assert data["usage.json"]["usage_counters"]  # metered by the run
    assert [row["metric"] for row in data["budgets.json"]["budgets"]] == ["tokens"]
    messages = data["messages.json"]["messages"]
    assert [m["content"] for m in messages] == ["Hello from Alice, edited", "Alice whispers"]
    assert [e["content"] for e in data["messages.json"]["edits"]] == ["Hello from Alice"]
    assert data["messages.json"]["edits"][0]["edited_by_you"] is True
    assert [t["title"] for t in data["forum.json"]["topics"]] == ["Alice asks"]
    assert [e["content"] for e in data["forum.json"]["topic_edits"]] == ["How?"]
    assert [r["content"] for r in data["forum.json"]["replies"]] == ["Alice adds detail"]
    assert [r["emoji"] for r in data["reactions.json"]["chat_reactions"]] == ["🎉"]
    assert [r["emoji"] for r in data["reactions.json"]["forum_reactions"]] == ["👍"]
    assert "Alice's notice" in [n["title"] for n in data["notifications.json"]["notifications"]]
    assert data["newsletter.json"]["subscription"]["email"] == "alice@example.com"
    assert data["billing.json"]["plan"]["tier"] == "free"
    assert [r["reason"] for r in data["reports.json"]["reports"]] == ["spam"]
    assert "test.alice" in [e["action"] for e in data["audit_log.json"]["entries"]]
    assert {e["action"] for e in data["audit_log.json"]["entries"]} & {"test.bob"} == set()
    index = data["files.json"]
    assert [f["name"] for f in index["attachments"]] == ["dot.png"]
    assert files[index["attachments"][0]["path"]] == PNG  # the file itself is in the zip
    assert files[index["avatar"]["path"]] == PNG

    # Nothing of Bob's: no text of his, no id of his rows, not his address or his account id. The
    # exceptions are Alice's own records of acting on him: her audit log names whom she invited, her
    # report names the topic she reported (by id, never its text).
    everything = b"\n".join(body for name, body in files.items() if not name.endswith(".png")).decode()
    assert "BOBSECRET" not in everything.upper()
    outside_audit = b"\n".join(
        body for name, body in files.items() if not name.endswith(".png") and name != "audit_log.json").decode()
    for needle in (str(bob.pk), bob.email, "bob@", str(seeded["bob_run"].pk), str(seeded["bob_message"].pk),
                   "bobsecret.png"):
        assert needle not in outside_audit, needle
    assert outside_audit.count(str(seeded["bob_topic"].pk)) == 1  # reports.json: what she reported
    assert data["reports.json"]["reports"][0]["content_id"] == str(seeded["bob_topic"].pk)
    assert [entry for entry in data["audit_log.json"]["entries"] if str(bob.pk) in json.dumps(entry)] == [
        entry for entry in data["audit_log.json"]["entries"] if entry["action"] == "collaborator.invite"]
    assert not any("bobsecret" in name.lower() for name in files)
    assert AgentExecution.objects.filter(project=seeded["project"]).count() == 2  # Bob's run was in the same project


def test_api_keys_never_leave_as_keys_or_hashes(seeded):
    key, raw = make_api_key(seeded["alice"], name="second")
    everything = b"".join(build_for(seeded["alice"]).values())
    assert raw.encode() not in everything
    assert key.key_hash.encode() not in everything
    assert key.prefix.encode() in everything


def test_a_missing_upload_is_listed_without_a_path(seeded):
    default_storage.delete(seeded["alice_file"].file.name)
    files = build_for(seeded["alice"])
    index = json.loads(files["files.json"])
    assert index["attachments"][0]["path"] is None
    assert not any(name.startswith("files/attachments/") for name in files)


def test_memory_stays_flat_for_100000_agent_runs(user):
    project = Project.objects.create(user=user, name="Busy")
    now = timezone.now()
    AgentExecution.objects.bulk_create(
        (AgentExecution(project=project, user=user, agent_type="codex", model="gpt", input_tokens=i,
                        output_tokens=1, status=ExecutionStatus.COMPLETED, created_at=now, metadata={"i": i})
         for i in range(100_000)),
        batch_size=5000,
    )
    with tempfile.TemporaryFile() as target:
        tracemalloc.start()
        try:
            rows = export_write(user=user, target=target, exported_at=now)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        target.seek(0)
        with zipfile.ZipFile(target) as archive:
            runs = json.loads(archive.read("agent_runs.json"))["agent_runs"]
    assert len(runs) == 100_000
    assert len({run["id"] for run in runs}) == 100_000
    assert rows >= 100_000
    print(f"tracemalloc peak for 100,000 runs: {peak / 1e6:.1f} MB")
    assert peak < 30 * 1024 * 1024


# --- requesting: the API ---------------------------------------------------------------------------------


def test_anonymous_gets_401(api_client):
    assert api_client.post(API).status_code == 401
    assert api_client.get(API).status_code == 401


def test_an_api_key_cannot_request_or_read_an_export(key_client, user):
    for response in (key_client.post(API), key_client.get(API)):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "session_required"
    assert not DataExport.objects.filter(user=user).exists()


def test_a_session_requests_an_export_built_by_the_task_and_emailed(user, settings, django_capture_on_commit_callbacks, at):
    settings.SITE_URL = "https://agentwise.example"
    client = session_for(user)
    response = request_and_build(client, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    export = DataExport.objects.get(user=user)
    assert export.status == DataExportStatus.READY
    assert export.sections_done == export.sections_total == SECTION_COUNT
    assert export.expires_at == export.finished_at + timedelta(days=7)
    assert export.file_path.startswith(f"exports/{user.pk}/")
    assert default_storage.exists(export.file_path)
    assert AuditLog.objects.filter(action="data_export.request", actor=user).exists()

    outbound = OutboundEmail.objects.get(kind="accounts/email/data_export_ready")
    assert outbound.to == [user.email]
    [sent] = [m for m in mail.outbox if "data export" in m.subject]
    link = re.search(r"https://agentwise\.example/account/export/download/\S+/", sent.body).group(0)
    assert link == services.data_export_download_url(export)

    body = client.get(API).json()
    assert body["status"] == "ready"
    assert body["download_url"].startswith("https://agentwise.example/account/export/download/")
    assert body["next_request_at"] == (export.requested_at + timedelta(hours=24)).isoformat().replace("+00:00", "Z")


def test_get_before_any_request_is_404(user):
    response = session_for(user).get(API)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_get_answers_only_your_own_latest_export(user, other_user, staff_user, django_capture_on_commit_callbacks):
    request_and_build(session_for(user), django_capture_on_commit_callbacks)
    assert session_for(other_user).get(API).status_code == 404
    assert session_for(staff_user).get(API).status_code == 404  # no staff bypass


def test_progress_is_shown_while_running(user):
    export = DataExport.objects.create(user=user, status=DataExportStatus.RUNNING, started_at=timezone.now(),
                                       sections_total=16, sections_done=5, rows_written=1234)
    body = session_for(user).get(API).json()
    assert (body["status"], body["sections_done"], body["sections_total"], body["rows_written"]) == ("running", 5, 16, 1234)
    assert body["download_url"] is None
    page = page_for(user).get(PAGE)
    assert page.status_code == 200
    assert "5 of 16 files written" in page.content.decode()
    assert 'http-equiv="refresh"' in page.content.decode()
    assert export.pk


def test_a_second_request_within_a_day_is_429_with_retry_after(user, django_capture_on_commit_callbacks, at):
    client = session_for(user)
    assert request_and_build(client, django_capture_on_commit_callbacks).status_code == 202
    at(NOON + timedelta(hours=23))
    response = client.post(API)
    assert response.status_code == 429
    assert response["Retry-After"] == str(3600)
    error = response.json()["error"]
    assert (error["code"], error["retry_after"], error["limit"]) == ("rate_limited", 3600, "accounts.data_export")
    assert DataExport.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(("first", "refused", "allowed"), [
    # at 23:59: the next day's 00:01 is still within 24 hours
    (datetime(2026, 3, 10, 23, 59, tzinfo=UTC), datetime(2026, 3, 11, 0, 1, tzinfo=UTC),
     datetime(2026, 3, 11, 23, 59, tzinfo=UTC)),
    # across a month boundary (and February's end)
    (datetime(2026, 1, 31, 12, 0, tzinfo=UTC), datetime(2026, 2, 1, 11, 59, 59, tzinfo=UTC),
     datetime(2026, 2, 1, 12, 0, tzinfo=UTC)),
    (datetime(2026, 2, 28, 23, 59, tzinfo=UTC), datetime(2026, 3, 1, 23, 58, tzinfo=UTC),
     datetime(2026, 3, 1, 23, 59, tzinfo=UTC)),
])
def test_one_export_a_day_is_24_hours_not_a_calendar_day(user, at, first, refused, allowed):
    client = session_for(user)
    at(first)
    assert client.post(API).status_code == 202
    DataExport.objects.filter(user=user).update(status=DataExportStatus.READY)  # built (one active at a time)
    at(refused)
    assert client.post(API).status_code == 429
    at(allowed)
    assert client.post(API).status_code == 202


def test_a_failed_export_does_not_count_against_the_day(user, at):
    client = session_for(user)
    assert client.post(API).status_code == 202
    DataExport.objects.filter(user=user).update(status=DataExportStatus.FAILED)
    assert client.post(API).status_code == 202


def test_two_requests_at_once_queue_one_build(user):
    """The once-a-day check runs under the user's row lock; the unique constraint backs it."""
    DataExport.objects.create(user=user)
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        DataExport.objects.create(user=user)


# --- the page ------------------------------------------------------------------------------------------


def test_the_page_needs_a_sign_in():
    client = Client()
    for response in (client.get(PAGE), client.post(PAGE)):
        assert response.status_code == 302
        assert response["Location"].startswith("/account/login/")


def test_the_page_requests_an_export_and_says_no_to_a_second_one(user, django_capture_on_commit_callbacks, at):
    client = page_for(user)
    assert "Request an export" in client.get(PAGE).content.decode()
    response = request_and_build(client, django_capture_on_commit_callbacks, path=PAGE)
    assert response.status_code == 302
    page = client.get(PAGE).content.decode()
    assert "ready" in page and "Download the zip" in page
    response = client.post(PAGE, follow=True)
    assert response.status_code == 200
    assert "one export a day" in response.content.decode()
    assert DataExport.objects.filter(user=user).count() == 1


def test_the_page_shows_a_failed_export(user):
    DataExport.objects.create(user=user, status=DataExportStatus.FAILED, error="OSError: disk full")
    page = page_for(user).get(PAGE).content.decode()
    assert "failed" in page
    assert "disk full" not in page  # the error is for operators


# --- downloading -----------------------------------------------------------------------------------------


@pytest.fixture
def ready(user, django_capture_on_commit_callbacks, at):
    request_and_build(session_for(user), django_capture_on_commit_callbacks)
    export = DataExport.objects.get(user=user)
    path = reverse("account_export_download", args=[services.data_export_token(export)])
    return export, path


def test_the_owner_downloads_the_zip(ready, user):
    export, path = ready
    response = page_for(user).get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert "README.txt" in archive.namelist()
        assert json.loads(archive.read("profile.json"))["account"]["id"] == str(user.pk)


def test_the_download_refuses_everyone_else(ready, other_user):
    _, path = ready
    assert page_for(other_user).get(path).status_code == 404
    assert page_for(StaffFactory(is_superuser=True)).get(path).status_code == 404
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/account/login/")
    # An API key means nothing on the page: the request is anonymous there.
    keyed = Client(HTTP_AUTHORIZATION=f"Bearer {make_api_key(ready[0].user)[1]}").get(path)
    assert keyed.status_code == 302


def test_a_forged_or_altered_token_is_404(ready, user):
    export, path = ready
    client = page_for(user)
    assert client.get(path.replace(str(export.pk)[:8], "00000000")).status_code == 404
    assert client.get(reverse("account_export_download", args=[f"{export.pk}:abc:def"])).status_code == 404


def test_the_file_is_not_under_a_public_url(ready, user):
    export, _ = ready
    assert page_for(user).get(f"/media/{export.file_path}").status_code == 404


def test_the_link_expires_after_7_days_and_the_file_is_then_removed(ready, user, at):
    export, path = ready
    client = page_for(user)
    at(NOON + timedelta(days=7) - timedelta(minutes=1))
    assert client.get(path).status_code == 200
    assert data_exports_tidy_task.delay().get() == {"expired": 0, "requeued": 0}
    at(NOON + timedelta(days=7, minutes=1))
    client = page_for(user)
    response = client.get(path)
    assert response.status_code == 410
    assert data_exports_tidy_task.delay().get()["expired"] == 1
    export.refresh_from_db()
    assert export.status == DataExportStatus.EXPIRED
    assert not default_storage.exists(f"exports/{user.pk}/{export.pk}.zip")
    assert client.get(path).status_code == 410
    assert session_for(user).get(API).json()["status"] == "expired"


def test_a_link_signed_later_still_ends_with_the_file(ready, user, at):
    """A link from the page (signed when shown) cannot outlive the export's own expiry."""
    export, _ = ready
    at(NOON + timedelta(days=6))
    late_path = reverse("account_export_download", args=[services.data_export_token(export)])
    at(NOON + timedelta(days=7, minutes=1))
    assert page_for(user).get(late_path).status_code == 410


# --- the task -----------------------------------------------------------------------------------------


def test_the_task_is_safe_to_run_twice(user):
    export = DataExport.objects.create(user=user, sections_total=SECTION_COUNT)
    assert data_export_build_task.delay(str(export.pk)).get() == "ready"
    path = DataExport.objects.get(pk=export.pk).file_path
    assert data_export_build_task.delay(str(export.pk)).get() is None
    assert DataExport.objects.get(pk=export.pk).file_path == path
    assert OutboundEmail.objects.filter(kind="accounts/email/data_export_ready").count() == 1


def test_a_failed_build_is_recorded(user, monkeypatch):
    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("accounts.export.export_write", broken)
    export = DataExport.objects.create(user=user)
    assert data_export_build_task.delay(str(export.pk)).get() == "failed"
    export.refresh_from_db()
    assert export.status == DataExportStatus.FAILED
    assert "disk full" in export.error
    assert not OutboundEmail.objects.filter(kind="accounts/email/data_export_ready").exists()


def test_the_sweeper_hands_lost_and_stalled_builds_to_the_worker(user, other_user, at):
    lost = DataExport.objects.create(user=user, requested_at=NOON - timedelta(minutes=11))
    stalled = DataExport.objects.create(user=other_user, status=DataExportStatus.RUNNING,
                                        started_at=NOON - timedelta(hours=2), requested_at=NOON - timedelta(hours=2))
    assert data_exports_tidy_task.delay().get() == {"expired": 0, "requeued": 2}
    for export in (lost, stalled):
        export.refresh_from_db()
        assert export.status == DataExportStatus.READY


def test_the_tidy_task_is_on_the_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "accounts.tasks.data_exports_tidy_task" in tasks



def test_the_schema_documents_the_session_only_operations():
    from drf_spectacular.generators import SchemaGenerator

    operations = SchemaGenerator().get_schema(request=None, public=True)["paths"]["/api/me/export/"]
    assert set(operations["get"]["responses"]) >= {"200", "401", "403", "404", "429"}
    assert set(operations["post"]["responses"]) >= {"202", "401", "403", "429"}
    for operation in operations.values():
        assert operation["security"] == [{"cookieAuth": []}]  # a browser session, never an API key
        assert "session_required" in operation["description"]


def test_deleting_the_account_removes_its_export_files_from_storage(ready, user, django_capture_on_commit_callbacks):
    from accounts.credentials import Credential
    from accounts.deletion import account_delete

    export, _ = ready
    assert default_storage.exists(f"exports/{user.pk}/{export.pk}.zip")
    with django_capture_on_commit_callbacks(execute=True):
        account_delete(actor=user, user=user, remove_content=False, credential=Credential.console())
    assert not default_storage.exists(f"exports/{user.pk}/{export.pk}.zip")
    assert not DataExport.objects.exists()


def test_a_ready_export_past_its_expiry_shows_expired_before_the_tidy_runs(ready, user, at):
    at(NOON + timedelta(days=7, minutes=1))
    body = session_for(user).get(API).json()
    assert (body["status"], body["download_url"]) == ("expired", None)
    assert "Download the zip" not in page_for(user).get(PAGE).content.decode()


def test_the_api_does_not_show_the_builds_error(user):
    DataExport.objects.create(user=user, status=DataExportStatus.FAILED, error="OSError: /srv/media disk full")
    body = session_for(user).get(API).json()
    assert body["status"] == "failed" and "error" not in body
