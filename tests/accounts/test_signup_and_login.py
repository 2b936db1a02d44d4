"""Email sign-up with mandatory confirmation, login by email, password reset, email change."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import User
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LINK_RE = re.compile(r"https?://[^\s\"<]+")


def _signup(client, email="new@example.com", username="newbie", password=TEST_PASSWORD):
    return client.post(
        reverse("account_signup"),
        {"email": email, "username": username, "password1": password, "password2": password},
    )


def _link(message, needle):
    return next(link for link in LINK_RE.findall(message.body) if needle in link)


def test_signup_sends_welcome_email_with_html_and_text_and_confirm_logs_in(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the outbox sends after commit
        response = _signup(client)
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")

    user = User.objects.get(email="new@example.com")
    assert user.profile.subscription_tier == "free"
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Welcome to Agentwise!"
    assert message.to == ["new@example.com"]
    html = dict((mime, body) for body, mime in message.alternatives)["text/html"]
    confirm_url = _link(message, "/account/confirm-email/")
    assert confirm_url in html

    path = confirm_url.split("testserver", 1)[1]
    assert client.get(path).status_code == 200  # a page with a button: GET never confirms
    response = client.post(path)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert client.get(reverse("api-me")).json()["email"] == "new@example.com"


def test_login_is_refused_until_the_email_is_confirmed(client, django_capture_on_commit_callbacks):
    _signup(client)
    client.logout()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_login"), {"login": "new@example.com", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert client.get(reverse("api-me")).status_code in (401, 403)
    # The sign-up's confirmation is still fresh: allauth does not send another within 3 minutes
    # (ACCOUNT_RATE_LIMITS["confirm_email"]), so a retried sign-in does not flood the inbox.
    assert mail.outbox == []


def test_login_by_email_is_case_insensitive(client):
    user = UserFactory(email="casey@example.com")
    response = client.post(reverse("account_login"), {"login": "CASEY@Example.com", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"] == str(user.pk)) == 1


def test_wrong_password_is_refused(client):
    UserFactory(email="casey@example.com")
    response = client.post(reverse("account_login"), {"login": "casey@example.com", "password": "wrong-password"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "password, message",
    [("short1!", "at least 8 characters"), ("password123", "too common"), ("1234567890123", "entirely numeric")],
)
def test_weak_passwords_are_refused_at_signup(client, password, message):
    response = _signup(client, password=password)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_duplicate_email_and_username_are_refused_case_insensitively(client):
    UserFactory(email="taken@example.com", username="Taken")
    response = _signup(client, email="TAKEN@example.com", username="fresh")
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    response = _signup(client, email="fresh@example.com", username="taken")
    assert response.status_code == 200
    assert "username is already taken" in response.content.decode().lower() or "already" in response.content.decode()
    assert not User.objects.filter(email="fresh@example.com").exists()


@pytest.mark.parametrize("username", ["ab", "-dash", "has space", "admin", "x" * 51, "emoji😀"])
def test_invalid_or_reserved_usernames_are_refused(client, username):
    response = _signup(client, username=username)
    assert response.status_code == 200
    assert not User.objects.filter(email="new@example.com").exists()


def test_password_reset_email_and_new_password_works(client, django_capture_on_commit_callbacks):
    user = UserFactory(email="forgetful@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Reset your Agentwise password"
    assert any(mime == "text/html" for _, mime in message.alternatives)

    reset_path = _link(message, "/account/password/reset/key/").split("testserver", 1)[1]
    response = client.get(reset_path, follow=True)  # allauth moves the key into the session
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else reset_path
    response = client.post(form_path, {"password1": "a-brand-new-secret", "password2": "a-brand-new-secret"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-brand-new-secret")


def test_password_reset_for_unknown_email_reveals_nothing(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": "ghost@example.com"})
    assert response.status_code == 302
    assert all(m.subject != "Reset your Agentwise password" for m in mail.outbox)


def test_email_change_needs_reconfirmation(client, django_capture_on_commit_callbacks):
    user = UserFactory(email="old@example.com")
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_email"), {"action_add": "", "email": "new@example.com"})
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["new@example.com"]
    assert mail.outbox[-1].subject == "Confirm your email address for Agentwise"
    user.refresh_from_db()
    assert user.email == "old@example.com"  # unchanged until the new address is confirmed

    path = _link(mail.outbox[-1], "/account/confirm-email/").split("testserver", 1)[1]
    client.post(path)
    user.refresh_from_db()
    assert user.email == "new@example.com"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == ["new@example.com"]


def test_failed_logins_are_rate_limited_even_for_the_right_password(client):
    UserFactory(email="target@example.com")
    for i in range(5):
        client.post(reverse("account_login"), {"login": "target@example.com", "password": f"wrong-{i}"})
    response = client.post(reverse("account_login"), {"login": "target@example.com", "password": TEST_PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_ends_the_session(client, user):
    client.force_login(user)
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session
