"""The admin's bot detections (read-only, "Lift block") and allow list, as staff use them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from moderation import bots
from moderation.models import AllowListEntry, BotDetection
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/moderation/botdetection/"
ALLOW_ADD = "/admin/moderation/allowlistentry/add/"
BLOCKED_IP = "203.0.113.66"


def as_user(user) -> Client:
    client = Client(REMOTE_ADDR="198.51.100.50")
    client.force_login(user)
    return client


def staff_with(*codenames) -> Client:
    staff = StaffFactory()
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="moderation", codename__in=codenames))
    return as_user(staff)


@pytest.fixture
def superuser_client():
    return as_user(UserFactory(is_staff=True, is_superuser=True))


@pytest.fixture
def detection():
    return bots.bot_block(
        address=BLOCKED_IP, score=0.93, user_agent="<script>alert(1)</script>",
        pattern={"signals": {"scanner_paths": 1.0, "odd_agent": 1.0}, "last_path": "/<b>wp-login.php</b>"},
    )


def test_who_may_see_the_detections(detection, superuser_client):
    assert Client().get(LIST).status_code == 302  # anonymous: to the sign-in page
    assert as_user(UserFactory()).get(LIST).status_code == 302  # not staff
    assert as_user(StaffFactory()).get(LIST).status_code == 403  # staff without the permission
    assert staff_with("view_botdetection").get(LIST).status_code == 200
    page = superuser_client.get(LIST)
    assert page.status_code == 200 and BLOCKED_IP.encode() in page.content and b"0.93" in page.content


def test_the_detail_escapes_what_the_client_sent(detection, superuser_client):
    page = superuser_client.get(f"{LIST}{detection.pk}/change/")
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content and b"&lt;script&gt;" in page.content
    assert b"<b>wp-login.php</b>" not in page.content


def test_filters_by_active_block(detection, superuser_client, time_machine):
    old = bots.bot_block(address="192.0.2.1", score=0.9, pattern={})
    BotDetection.objects.filter(pk=old.pk).update(blocked_until="2000-01-01T00:00:00Z")
    active = superuser_client.get(LIST, {"block": "active"}).content
    expired = superuser_client.get(LIST, {"block": "expired"}).content
    assert BLOCKED_IP.encode() in active and b"192.0.2.1" not in active
    assert b"192.0.2.1" in expired and BLOCKED_IP.encode() not in expired


def test_the_list_costs_the_same_queries_for_more_rows(superuser_client):
    for i in range(3):
        bots.bot_block(address=f"192.0.2.{i}", score=0.9, pattern={}, user=UserFactory())
    superuser_client.get(LIST)  # warm the content-type and permission caches
    with CaptureQueriesContext(connection) as few:
        superuser_client.get(LIST)
    for i in range(3, 13):
        bots.bot_block(address=f"192.0.2.{i}", score=0.9, pattern={}, user=UserFactory())
    with CaptureQueriesContext(connection) as many:
        superuser_client.get(LIST)
    assert len(many) == len(few)


def test_lifting_a_block_serves_the_address_at_once_and_records_who(
    detection, superuser_client, monkeypatch, django_capture_on_commit_callbacks
):
    audited = []
    monkeypatch.setattr(bots, "audit_record", lambda action, **kw: audited.append((action, kw)))
    blocked = Client(REMOTE_ADDR=BLOCKED_IP)
    assert blocked.get("/").status_code == 429
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(LIST, {"action": "lift_block", "_selected_action": [str(detection.pk)]})
    assert response.status_code == 302
    detection.refresh_from_db()
    assert detection.lifted_at is not None and detection.lifted_by.is_superuser and not detection.is_blocked
    assert not bots.detection_is_active(detection)
    assert blocked.get("/").status_code == 200
    assert [a for a, _ in audited] == ["bot.lift"] and audited[0][1]["resource"] == detection
    assert BotDetection.objects.count() == 1  # nothing deleted: the history stays


def test_staff_who_may_only_view_cannot_lift(detection, django_capture_on_commit_callbacks):
    viewer = staff_with("view_botdetection")
    with django_capture_on_commit_callbacks(execute=True):
        viewer.post(LIST, {"action": "lift_block", "_selected_action": [str(detection.pk)]})
    detection.refresh_from_db()
    assert detection.lifted_at is None and bots.block_for(BLOCKED_IP) is not None
    moderator = staff_with("view_botdetection", "change_botdetection")
    with django_capture_on_commit_callbacks(execute=True):
        moderator.post(LIST, {"action": "lift_block", "_selected_action": [str(detection.pk)]})
    detection.refresh_from_db()
    assert detection.lifted_at is not None and bots.block_for(BLOCKED_IP) is None


def test_detections_cannot_be_added_edited_or_deleted(detection, superuser_client):
    assert superuser_client.get(f"{LIST}add/").status_code == 403
    assert superuser_client.get(f"{LIST}{detection.pk}/delete/").status_code == 403
    superuser_client.post(f"{LIST}{detection.pk}/change/", {"confidence_score": "0.1", "ip_address": "1.2.3.4"})
    detection.refresh_from_db()
    assert detection.confidence_score == 0.93 and detection.ip_address == BLOCKED_IP


@pytest.mark.parametrize(
    ("network", "error"),
    [
        ("10.0.0.0/33", b"Enter an IP address or a CIDR range"),
        ("not-an-address", b"Enter an IP address or a CIDR range"),
        ("2001:db8::/129", b"Enter an IP address or a CIDR range"),
        ("", b"Give an address or range, a user, or both."),
    ],
)
def test_the_allow_list_refuses_bad_ranges_with_a_clear_error(superuser_client, network, error):
    response = superuser_client.post(ALLOW_ADD, {"network": network, "note": "x"})
    assert response.status_code == 200 and error in response.content
    assert not AllowListEntry.objects.exists()


def test_an_allow_list_entry_added_in_the_admin_is_normalised_and_applies_at_once(superuser_client):
    bots.bot_block(address=BLOCKED_IP, score=0.9, pattern={})
    assert Client(REMOTE_ADDR=BLOCKED_IP).get("/").status_code == 429
    response = superuser_client.post(ALLOW_ADD, {"network": "203.0.113.7/24", "note": "office NAT"})
    assert response.status_code == 302
    assert AllowListEntry.objects.get().network == "203.0.113.0/24"
    assert Client(REMOTE_ADDR=BLOCKED_IP).get("/").status_code == 200
    entry = AllowListEntry.objects.get()
    superuser_client.post(f"/admin/moderation/allowlistentry/{entry.pk}/delete/", {"post": "yes"})
    assert not AllowListEntry.objects.exists()
    assert Client(REMOTE_ADDR=BLOCKED_IP).get("/").status_code == 429  # the block itself still runs
