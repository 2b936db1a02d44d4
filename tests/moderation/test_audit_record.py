"""audit_record: one INSERT in the caller's transaction, the trusted client address, a bounded user
agent, JSON-safe metadata without secrets, and the current request from the middleware."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import RequestFactory

from moderation import audit
from moderation.audit import audit_record
from moderation.models import AuditLog
from tests.factories import UserFactory

from .audit_support import one_audit_row

pytestmark = pytest.mark.django_db


def _request(**meta):
    return RequestFactory().get("/", **meta)


def test_one_insert_with_actor_resource_and_metadata(django_assert_num_queries):
    user = UserFactory()
    with django_assert_num_queries(1):
        row = audit_record("test.thing", actor=user, resource=user, metadata={"n": 1})
    row = AuditLog.objects.get(pk=row.pk)
    assert (row.actor_id, row.action, row.resource_type, row.resource_id) == (user.pk, "test.thing", "accounts.user", str(user.pk))
    assert row.metadata == {"n": 1}


def test_the_row_rolls_back_with_the_action():
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record("test.thing", actor=user)
        raise RuntimeError("the action failed")
    assert not AuditLog.objects.exists()


def test_forged_forwarded_for_is_ignored_without_a_trusted_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = _request(REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert audit_record("test.ip", request=request).ip_address == "198.51.100.9"


def test_the_trusted_proxys_client_address_is_recorded(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote "1.2.3.4" itself; our one proxy appended the address it saw.
    request = _request(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    assert audit_record("test.ip", request=request).ip_address == "203.0.113.7"


def test_user_agent_is_truncated_and_missing_origin_is_empty():
    row = audit_record("test.ua", request=_request(HTTP_USER_AGENT="x" * 5000))
    assert len(row.user_agent) == audit.USER_AGENT_MAX_CHARS
    row = audit_record("test.none")
    assert (row.ip_address, row.user_agent) == (None, "")


def test_metadata_is_json_safe_and_secrets_are_redacted():
    value = uuid.uuid4()
    row = audit_record("test.meta", metadata={
        "id": value, "amount": Decimal("1.50"), "password": "hunter2", "nested": {"api_token": "t", "raw_key": "aw_x"},
        "list": [{"secret": "s"}], "prefix": "aw_abc", "obj": object,
    })
    row.refresh_from_db()
    assert row.metadata["id"] == str(value) and row.metadata["amount"] == "1.50"
    assert row.metadata["password"] == row.metadata["nested"]["api_token"] == row.metadata["nested"]["raw_key"] == "[redacted]"
    assert row.metadata["list"] == [{"secret": "[redacted]"}]
    assert row.metadata["prefix"] == "aw_abc"
    assert "hunter2" not in str(row.metadata)


def test_anonymous_actor_is_recorded_as_nobody():
    from django.contrib.auth.models import AnonymousUser

    assert audit_record("test.anon", actor=AnonymousUser()).actor_id is None


def test_the_middleware_supplies_the_current_request_and_clears_it(client, settings):
    """A service called during a request records that request's address without being passed it."""
    from moderation.middleware import AuditRequestMiddleware

    seen = []

    def view(request):
        seen.append(audit.current_request())
        return audit_record("test.via_middleware")

    middleware = AuditRequestMiddleware(view)
    request = _request(REMOTE_ADDR="192.0.2.44", HTTP_USER_AGENT="Firefox")
    row = middleware(request)
    assert seen == [request]
    assert (row.ip_address, row.user_agent) == ("192.0.2.44", "Firefox")
    assert audit.current_request() is None  # nothing leaks into the next request on this thread


def test_middleware_is_installed_after_authentication(settings):
    names = settings.MIDDLEWARE
    assert names.index("moderation.middleware.AuditRequestMiddleware") == names.index(
        "django.contrib.auth.middleware.AuthenticationMiddleware") + 1


def test_one_audit_row_helper_sees_the_insert():
    user = UserFactory()
    with one_audit_row("test.helper") as written:
        audit_record("test.helper", actor=user)
    assert written.row.actor == user


def test_a_websocket_scope_gives_the_address_and_user_agent(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    scope = {"client": ("192.0.2.7", 5555), "headers": [(b"user-agent", b"agent/1"), (b"x-forwarded-for", b"6.6.6.6")]}
    row = audit_record("test.scope", request=scope)
    assert (row.ip_address, row.user_agent) == ("192.0.2.7", "agent/1")


async def test_the_middleware_also_serves_async_requests():
    from moderation.middleware import AuditRequestMiddleware

    seen = []

    async def view(request):
        seen.append(audit.current_request())
        return "response"

    request = _request()
    assert await AuditRequestMiddleware(view)(request) == "response"
    assert seen == [request] and audit.current_request() is None
