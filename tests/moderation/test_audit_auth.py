"""Audit rows for sign-in, sign-out, failed sign-in, password and email changes, through allauth's pages."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from moderation.models import AuditLog
from moderation.receivers import login_identifier_hash
from tests.factories import TEST_PASSWORD, UserFactory, sign_in

from .audit_support import one_audit_row

pytestmark = pytest.mark.django_db

BROWSER = {"REMOTE_ADDR": "198.51.100.20", "HTTP_USER_AGENT": "Mozilla/5.0 (audit test)"}
LINK_RE = re.compile(r"https?://[^\s\"<]+")


def _link(message, needle):
    return next(link for link in LINK_RE.findall(message.body) if needle in link).split("testserver", 1)[1]


def test_sign_in_through_the_login_page_is_recorded(client):
    user = UserFactory(email="casey@example.com")
    with one_audit_row("auth.login") as written:
        response = client.post(reverse("account_login"), {"login": "casey@example.com", "password": TEST_PASSWORD}, **BROWSER)
    assert response.status_code == 302
    row = written.row
    assert (row.actor, row.resource_type, row.resource_id) == (user, "accounts.user", str(user.pk))
    assert (row.ip_address, row.user_agent) == ("198.51.100.20", "Mozilla/5.0 (audit test)")


def test_failed_sign_in_has_no_actor_and_keeps_only_a_hash_of_the_login(client):
    UserFactory(email="casey@example.com")
    with one_audit_row("auth.login_failed") as written:
        response = client.post(reverse("account_login"), {"login": "Casey@Example.com", "password": "wrong-password"}, **BROWSER)
    assert response.status_code == 200
    row = written.row
    assert row.actor is None and row.ip_address == "198.51.100.20"
    assert row.metadata["login_hash"] == login_identifier_hash("casey@example.com")  # case-folded: attempts correlate
    assert "casey" not in str(row.metadata).lower() and "wrong-password" not in str(row.metadata)


def test_failed_sign_in_with_a_forged_forwarded_for_records_the_peer(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    with one_audit_row("auth.login_failed") as written:
        client.post(reverse("account_login"), {"login": "nobody@example.com", "password": "x"},
                    HTTP_X_FORWARDED_FOR="6.6.6.6", **BROWSER)
    assert written.row.ip_address == "198.51.100.20"


def test_sign_out_is_recorded(client):
    user = UserFactory()
    client.force_login(user)
    with one_audit_row("auth.logout") as written:
        client.post(reverse("account_logout"), **BROWSER)
    assert written.row.actor == user and written.row.ip_address == "198.51.100.20"


def test_password_change_is_recorded(client):
    user = UserFactory()
    sign_in(client, user)
    with one_audit_row("auth.password_change") as written:
        response = client.post(reverse("account_change_password"),
                               {"oldpassword": TEST_PASSWORD, "password1": "a-brand-new-secret", "password2": "a-brand-new-secret"},
                               **BROWSER)
    assert response.status_code == 302
    assert written.row.actor == user and written.row.resource_id == str(user.pk)
    assert "a-brand-new-secret" not in str(written.row.metadata)


def test_password_reset_is_recorded(client, django_capture_on_commit_callbacks):
    user = UserFactory(email="forgetful@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    reset_path = _link(mail.outbox[-1], "/account/password/reset/key/")
    response = client.get(reset_path, follow=True)
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else reset_path
    with one_audit_row("auth.password_reset") as written:
        response = client.post(form_path, {"password1": "a-brand-new-secret", "password2": "a-brand-new-secret"}, **BROWSER)
    assert response.status_code == 302
    assert written.row.actor == user and written.row.ip_address == "198.51.100.20"


def test_email_added_confirmed_and_changed_are_recorded(client, django_capture_on_commit_callbacks):
    user = UserFactory(email="old@example.com")
    client.force_login(user)
    with one_audit_row("email.add") as written, django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_email"), {"action_add": "", "email": "new@example.com"}, **BROWSER)
    added = EmailAddress.objects.get(email="new@example.com")
    assert written.row.actor == user
    assert (written.row.resource_type, written.row.resource_id) == ("account.emailaddress", str(added.pk))
    assert written.row.metadata == {"email": "new@example.com", "verified": False}

    path = _link(mail.outbox[-1], "/account/confirm-email/")
    with one_audit_row("email.confirm") as confirmed:
        client.post(path, **BROWSER)
    assert confirmed.row.actor == user and confirmed.row.resource_id == str(added.pk)
    changed = AuditLog.objects.get(action="email.primary_change")
    assert changed.actor == user
    assert changed.metadata == {"from": "old@example.com", "to": "new@example.com"}


def test_primary_change_and_removal_are_recorded(client, settings):
    """With address changes off (several addresses per account), picking the primary and removing one."""
    settings.ACCOUNT_CHANGE_EMAIL = False
    user = UserFactory(email="one@example.com")
    second = EmailAddress.objects.create(user=user, email="two@example.com", verified=True, primary=False)
    client.force_login(user)
    with one_audit_row("email.primary_change") as written:
        client.post(reverse("account_email"), {"action_primary": "", "email": "two@example.com"}, **BROWSER)
    assert written.row.metadata == {"from": "one@example.com", "to": "two@example.com"}
    assert written.row.resource_id == str(second.pk)
    with one_audit_row("email.remove") as removed:
        client.post(reverse("account_email"), {"action_remove": "", "email": "one@example.com"}, **BROWSER)
    assert removed.row.actor == user and removed.row.metadata == {"email": "one@example.com"}
