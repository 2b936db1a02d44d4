"""The admin index as the moderation dashboard, the Moderators and Billing admins groups, and dj-stripe's
models moved into one "Billing (Stripe)" section."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community.models import Channel, Message, ModerationState
from moderation.models import BotDetection, ItemSource, ItemStatus, ModerationItem, Sanction, SanctionKind
from moderation.roles import BILLING_ADMINS, MODERATORS
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)  # the last minute of a month's first day


@pytest.fixture
def superuser():
    return StaffFactory(is_superuser=True)


@pytest.fixture
def moderator():
    user = StaffFactory(username="mod")
    user.groups.add(Group.objects.get(name=MODERATORS))
    return user


@pytest.fixture
def billing_admin():
    user = StaffFactory(username="billing")
    user.groups.add(Group.objects.get(name=BILLING_ADMINS))
    return user


def index(client, user):
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 200
    return response


def tile_values(response) -> dict[str, int]:
    html = response.content.decode()
    return {name: int(value) for name, value in re.findall(r'data-tile="([a-z-]+)">(\d+)<', html)}


def report(content_id, *, by=None, status=ItemStatus.PENDING, at=NOW, source=ItemSource.REPORT):
    return ModerationItem.objects.create(
        content_type="message", content_id=str(content_id), reported_by=by, reason="spam", status=status,
        source=source, created_at=at,
    )


@time_machine.travel(NOW, tick=False)
def test_the_index_counts_what_needs_a_moderator(client, superuser):
    channel = Channel.objects.create(name="general")
    author = UserFactory()
    hidden = Message.objects.create(channel=channel, user=author, seq=1, content="x", moderation_state=ModerationState.HIDDEN)
    Message.objects.create(channel=channel, user=author, seq=2, content="y")  # visible: not counted
    a, b, c = UserFactory(), UserFactory(), UserFactory()
    report(hidden.pk, by=a)
    report(hidden.pk, by=b)
    report("other", by=c)
    report("old", by=a, at=NOW - timedelta(days=3))  # pending, but not today
    report("done", by=b, status=ItemStatus.APPROVED)  # resolved: today, not pending
    report("flag", source=ItemSource.RULE)  # a rule's flag: pending, not a member's report
    BotDetection.objects.create(ip_address="203.0.113.9", confidence_score=0.9, is_blocked=True, blocked_until=NOW + timedelta(minutes=5))
    BotDetection.objects.create(ip_address="203.0.113.8", confidence_score=0.9, is_blocked=True, blocked_until=NOW - timedelta(minutes=1))
    BotDetection.objects.create(
        ip_address="203.0.113.7", confidence_score=0.9, is_blocked=True, blocked_until=NOW + timedelta(hours=1), lifted_at=NOW
    )
    Sanction.objects.create(user=a, kind=SanctionKind.SILENCE, reason="r", expires_at=NOW + timedelta(days=1))
    Sanction.objects.create(user=b, kind=SanctionKind.SUSPEND, reason="r")  # until lifted
    Sanction.objects.create(user=c, kind=SanctionKind.SILENCE, reason="r", expires_at=NOW - timedelta(seconds=1))
    Sanction.objects.create(user=c, kind=SanctionKind.SUSPEND, reason="r", lifted_at=NOW)

    values = tile_values(index(client, superuser))

    assert values == {
        "pending-reports": 5,
        "reports-today": 4,
        "hidden-items": 1,
        "active-blocks": 1,
        "active-sanctions": 2,
    }


@time_machine.travel(NOW, tick=False)
def test_the_chart_shows_fourteen_days_of_reports_and_blocks_with_empty_days_as_zero(client, superuser):
    report("a", at=NOW)
    report("b", at=NOW - timedelta(hours=1))
    report("c", at=NOW - timedelta(days=13))
    report("too-old", at=NOW - timedelta(days=14))
    BotDetection.objects.create(ip_address="198.51.100.1", confidence_score=1, is_blocked=True, created_at=NOW - timedelta(days=2))
    BotDetection.objects.create(ip_address="198.51.100.2", confidence_score=0.5, is_blocked=False, created_at=NOW)  # scored, not blocked

    html = index(client, superuser).content.decode()

    reports = [int(v) for v in re.findall(r"<td data-reports>(\d+)</td>", html)]
    blocks = [int(v) for v in re.findall(r"<td data-blocks>(\d+)</td>", html)]
    assert reports == [1] + [0] * 12 + [2]
    assert blocks == [0] * 11 + [1, 0, 0]
    assert "<svg" in html and "<script" not in html.split('id="moderation-dashboard"')[1].split("</section>")[0]


def test_the_index_costs_the_same_queries_with_more_data(client, superuser):
    index(client, superuser)
    with CaptureQueriesContext(connection) as few:
        index(client, superuser)
    for i in range(30):
        report(f"item-{i}", by=UserFactory())
        BotDetection.objects.create(ip_address=f"192.0.2.{i}", confidence_score=1, is_blocked=True)
    with CaptureQueriesContext(connection) as many:
        index(client, superuser)
    assert len(many) == len(few)


@time_machine.travel(NOW, tick=False)
def test_tiles_link_into_lists_showing_what_they_count(client, superuser):
    a, b = UserFactory(), UserFactory()
    first = report("one", by=a)
    first.status = ItemStatus.APPROVED  # resolved, then reported again: still pending as an item
    first.save()
    report("one", by=b)
    report("two", by=a)
    Sanction.objects.create(user=a, kind=SanctionKind.SILENCE, reason="r", expires_at=NOW + timedelta(days=1))
    Sanction.objects.create(user=b, kind=SanctionKind.SILENCE, reason="r", expires_at=NOW - timedelta(days=1))
    BotDetection.objects.create(ip_address="203.0.113.9", confidence_score=0.9, is_blocked=True, blocked_until=NOW + timedelta(minutes=5))
    BotDetection.objects.create(ip_address="203.0.113.8", confidence_score=0.9, is_blocked=True, blocked_until=NOW - timedelta(minutes=5))
    html = index(client, superuser).content.decode()
    found = re.findall(r'<a href="([^"]+)"><span class="value" data-tile="([a-z-]+)">', html)
    links = {tile: url.replace("&amp;", "&") for url, tile in found}
    for tile, expected_rows in (("pending-reports", 2), ("active-blocks", 1), ("active-sanctions", 1)):
        page = client.get(links[tile])
        assert page.status_code == 200, tile  # an unknown lookup would redirect to ?e=1
        assert page.context["cl"].result_count == expected_rows, tile


def test_staff_without_a_moderation_role_see_no_figures(client):
    html = index(client, StaffFactory()).content.decode()
    assert 'id="moderation-dashboard"' not in html


# --- roles -----------------------------------------------------------------------------------------


def test_a_moderator_who_is_not_a_superuser_sees_the_dashboard_and_can_moderate_content(client, moderator):
    response = index(client, moderator)
    assert 'id="moderation-dashboard"' in response.content.decode()
    channel = Channel.objects.create(name="general")
    message = Message.objects.create(channel=channel, user=UserFactory(), seq=1, content="spam")
    assert client.get("/admin/community/message/").status_code == 200
    response = client.post(
        "/admin/community/message/", {"action": "soft_delete", "_selected_action": [str(message.pk)]}, follow=True
    )
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.deleted_at is not None


def test_a_moderator_cannot_touch_billing_emails_access_or_api_keys(client, moderator):
    member = UserFactory(email="member@example.com")
    client.force_login(moderator)
    assert client.get("/admin/djstripe/customer/").status_code == 403
    assert client.get("/admin/accounts/apikey/").status_code == 403
    assert client.get(f"/admin/accounts/user/{member.pk}/change/").status_code == 200  # may look
    response = client.post(
        f"/admin/accounts/user/{member.pk}/change/", {"email": "taken-over@example.com", "username": member.username}
    )
    assert response.status_code == 403
    response = client.post("/admin/accounts/user/", {"action": "deactivate", "_selected_action": [str(member.pk)]})
    member.refresh_from_db()
    assert member.email == "member@example.com" and member.is_active
    assert not any(a["app_label"] in ("djstripe", "billing") for a in index(client, moderator).context["app_list"])


def test_stripe_models_sit_in_one_billing_section_at_the_end_for_billing_admins(client, billing_admin, superuser):
    for user in (billing_admin, superuser):
        apps = index(client, user).context["app_list"]
        names = [a["name"] for a in apps]
        assert names[-1] == "Billing (Stripe)"
        assert names.count("Billing (Stripe)") == 1
        assert "Stripe" not in names[:-1] and "Djstripe" not in names[:-1]
    assert client.get("/admin/djstripe/customer/").status_code == 200
    client.force_login(billing_admin)
    assert client.get("/admin/djstripe/customer/").status_code == 200
    assert client.get("/admin/community/message/").status_code == 403


def test_every_admin_action_needs_more_than_view_permission():
    """An action without ``permissions`` runs for anyone who may merely look at the list (a moderator
    deactivating accounts, say): each one must ask for a change or delete permission (or its own).
    Third-party admins (allauth, dj-stripe) are left to the roles: no group is given view-only access
    to their models (moderation/roles.py)."""
    from django.contrib import admin

    ours = {"accounts", "agentwise", "billing", "community", "content", "moderation", "projects"}
    loose = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ours:
            continue
        for name in model_admin.actions or ():
            action = getattr(model_admin, name, None) or admin.site.get_action(name)
            allowed = set(getattr(action, "allowed_permissions", ()))
            if name.startswith("export_"):  # reads: looking is enough
                continue
            if not allowed or allowed <= {"view"}:
                loose.append(f"{model._meta.label}.{name}")
    assert loose == []


def test_every_moderation_model_is_in_the_admin():
    """The site class lives outside moderation.admin: built from inside it, registrations were lost."""
    from django.apps import apps
    from django.contrib import admin

    models = set(apps.get_app_config("moderation").get_models())
    assert models - set(admin.site._registry) == set()
