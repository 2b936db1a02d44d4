"""Two-factor sign-in, the sessions list, the security overview and the staff admin sign-in."""

from datetime import UTC, datetime

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from allauth.usersessions.models import UserSession
from django.test import Client
from django.urls import reverse

from tests.factories import TEST_PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _login(client, email, password=TEST_PASSWORD, **extra):
    return client.post(reverse("account_login"), {"login": email, "password": password}, **extra)


def _current_code(secret):
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


@pytest.mark.time_machine(lambda: datetime.now(UTC), tick=False)
def test_totp_is_required_after_password_when_enabled(client):
    """The clock stands still: a code made at the end of a 30-second TOTP period must not be checked in the next."""
    user = UserFactory()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)

    response = _login(client, user.email)
    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session  # the password alone is not enough

    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": _current_code(secret)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_recovery_code_also_completes_sign_in(client):
    user = UserFactory()
    TOTP.activate(user, generate_totp_secret())
    codes = RecoveryCodes.activate(user).get_unused_codes()
    _login(client, user.email)
    client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert client.session["_auth_user_id"] == str(user.pk)


def test_security_page_shows_2fa_sessions_and_identities():
    user = UserFactory()
    client = Client(HTTP_USER_AGENT="Firefox-on-laptop")
    _login(client, user.email)
    _login(Client(HTTP_USER_AGENT="Chrome-on-phone"), user.email)

    html = client.get(reverse("account_security")).content.decode()
    assert "Turn on two-factor" in html
    assert "Firefox-on-laptop" in html and "Chrome-on-phone" in html
    assert "this device" in html
    assert "No GitHub or Google account linked" in html

    TOTP.activate(user, generate_totp_secret())
    assert "Authenticator app since" in client.get(reverse("account_security")).content.decode()


def test_sign_out_everywhere_else_keeps_only_this_session(client):
    user = UserFactory()
    _login(client, user.email)
    phone = Client()
    _login(phone, user.email)
    assert UserSession.objects.filter(user=user).count() == 2

    response = client.post(reverse("usersessions_list"), {"action": "logout"})
    assert response.status_code == 302
    assert UserSession.objects.filter(user=user).count() == 1
    assert client.get(reverse("api-me")).status_code == 200
    assert phone.get(reverse("api-me")).status_code in (401, 403)


def test_staff_sign_in_to_admin_with_email(client):
    staff = StaffFactory(email="mod@example.com")
    response = client.get("/admin/")
    assert response.status_code == 302
    login_page = client.get(response.url)
    assert login_page.status_code == 302 or login_page.status_code == 200
    _login(client, "MOD@example.com")
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "Moderation dashboard" in response.content.decode()
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_members_cannot_enter_the_admin(client):
    user = UserFactory()
    _login(client, user.email)
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/accounts/user/").status_code in (302, 403)


def test_admin_lists_and_searches_users_and_profiles(client):
    staff = StaffFactory(is_superuser=True)
    UserFactory(username="findme", email="findme@example.com")
    UserFactory(username="zebrauser", email="zebra@example.com")
    client.force_login(staff)
    html = client.get("/admin/accounts/user/", {"q": "findme"}).content.decode()
    assert "findme@example.com" in html and "zebra@example.com" not in html
    html = client.get("/admin/accounts/profile/", {"subscription_tier__exact": "free"}).content.decode()
    assert "findme" in html
    assert client.get("/admin/accounts/apikey/").status_code == 200
