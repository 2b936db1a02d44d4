"""Our mail as a real SMTP server receives it: envelope, headers, text and HTML parts."""

import pytest
from django.urls import reverse

from tests.factories import TEST_PASSWORD
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.DEFAULT_FROM_EMAIL = "Agentwise <hello@agentwise.test>"
        yield server.handler


def test_signup_confirmation_arrives_over_smtp_as_multipart(client, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the outbox sends after commit
        client.post(
            reverse("account_signup"),
            {"email": "smtp@example.com", "username": "smtpuser", "password1": TEST_PASSWORD, "password2": TEST_PASSWORD},
        )
    [message] = smtp.wait(1)
    envelope = smtp.envelopes[0]
    assert envelope.mail_from == "hello@agentwise.test"
    assert envelope.rcpt_tos == ["smtp@example.com"]
    assert message["Subject"] == "Welcome to Agentwise!"
    assert message["From"] == "Agentwise <hello@agentwise.test>"
    assert message["To"] == "smtp@example.com"
    assert message["Message-ID"] and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "/account/confirm-email/" in text and "/account/confirm-email/" in html
    assert "<a href=" in html


def test_password_reset_arrives_over_smtp(client, smtp, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": user.email})
    [message] = smtp.wait(1)
    assert message["Subject"] == "Reset your Agentwise password"
    assert "/account/password/reset/key/" in message.get_body(preferencelist=("plain",)).get_content()
