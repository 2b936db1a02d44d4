"""GitHub/Google sign-in: offered only when configured; a provider sign-up fills the profile.

The providers' HTTP APIs are mocked at the HTTP boundary (``responses``); everything of ours and allauth's runs.
"""

from urllib.parse import parse_qs, urlparse

import pytest
import responses
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GITHUB_USER = {
    "id": 424242,
    "login": "octo-dev",
    "name": "Octo Dev",
    "avatar_url": "https://avatars.githubusercontent.com/u/424242",
    "company": "@octo-corp",
    "location": "Lisbon",
    "blog": "https://octo.dev",
    "bio": "I automate things.",
    "email": None,
}


@pytest.fixture
def github_configured(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "github": {"SCOPE": ["read:user", "user:email"], "APPS": [{"client_id": "gh-id", "secret": "gh-secret", "key": ""}]},
    }


def _mock_github(rsps, *, email="octo@example.com", verified=True):
    rsps.post(
        "https://github.com/login/oauth/access_token",
        json={"access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"},
    )
    rsps.get("https://api.github.com/user", json=GITHUB_USER)
    rsps.get(
        "https://api.github.com/user/emails",
        json=[{"email": email, "primary": True, "verified": verified, "visibility": "private"}],
    )


def _github_round_trip(client):
    response = client.post(reverse("github_login"))
    assert response.status_code == 302
    authorize = urlparse(response.url)
    assert authorize.netloc == "github.com"
    state = parse_qs(authorize.query)["state"][0]
    return client.get(reverse("github_callback"), {"code": "the-code", "state": state})


def test_provider_buttons_only_when_configured(client, settings, github_configured):
    html = client.get(reverse("account_login")).content.decode()
    assert "/account/github/login/" in html
    assert "/account/google/login/" not in html


def test_no_provider_buttons_without_configuration(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"github": {}, "google": {}}
    html = client.get(reverse("account_login")).content.decode()
    assert "/account/github/login/" not in html


def test_github_signup_creates_verified_user_with_filled_profile(client, github_configured):
    with responses.RequestsMock() as rsps:
        _mock_github(rsps)
        response = _github_round_trip(client)
    assert response.status_code == 302, response.content[:500]

    user = User.objects.get(email="octo@example.com")
    assert user.username == "octo-dev"
    assert EmailAddress.objects.get(user=user).verified
    assert SocialAccount.objects.get(user=user).uid == "424242"
    profile = user.profile
    assert profile.full_name == "Octo Dev"
    assert profile.avatar_url == GITHUB_USER["avatar_url"]
    assert profile.github_username == "octo-dev"
    assert profile.company == "octo-corp"
    assert client.get(reverse("api-me")).json()["username"] == "octo-dev"


def test_github_signup_with_taken_handle_gets_a_free_one(client, github_configured):
    UserFactory(username="Octo-Dev")
    with responses.RequestsMock() as rsps:
        _mock_github(rsps)
        _github_round_trip(client)
    user = User.objects.get(email="octo@example.com")
    assert user.username.lower() != "octo-dev"
    assert user.profile.github_username == "octo-dev"


def test_github_error_from_provider_does_not_create_a_user(client, github_configured):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post("https://github.com/login/oauth/access_token", status=500, body="boom")
        response = _github_round_trip(client)
    assert response.status_code == 401  # allauth's "third-party login failure" page
    assert "Third-Party Login Failure" in response.content.decode()
    assert not User.objects.filter(email="octo@example.com").exists()


GOOGLE_USER = {
    "id": "108899887766554433221",
    "email": "grace@example.com",
    "verified_email": True,
    "name": "Grace Hopper",
    "given_name": "Grace",
    "family_name": "Hopper",
    "picture": "https://lh3.googleusercontent.com/a/grace",
}


@pytest.fixture
def google_configured(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "google": {"SCOPE": ["profile", "email"], "APPS": [{"client_id": "g-id", "secret": "g-secret", "key": ""}]},
    }


def test_google_button_when_configured(client, google_configured):
    assert "/account/google/login/" in client.get(reverse("account_login")).content.decode()


def test_google_signup_creates_verified_user_with_name_and_avatar(client, google_configured):
    with responses.RequestsMock() as rsps:
        # No id_token in the token answer: allauth then asks Google's userinfo endpoint.
        rsps.post("https://oauth2.googleapis.com/token", json={"access_token": "ya29.test", "token_type": "Bearer", "expires_in": 3599})
        rsps.get("https://www.googleapis.com/oauth2/v2/userinfo", json=GOOGLE_USER)
        response = client.post(reverse("google_login"))
        assert response.status_code == 302
        authorize = urlparse(response.url)
        assert authorize.netloc == "accounts.google.com"
        state = parse_qs(authorize.query)["state"][0]
        response = client.get(reverse("google_callback"), {"code": "the-code", "state": state})
    assert response.status_code == 302, response.content[:500]

    user = User.objects.get(email="grace@example.com")
    assert EmailAddress.objects.get(user=user).verified
    assert SocialAccount.objects.get(user=user, provider="google").uid == GOOGLE_USER["id"]
    assert user.profile.full_name == "Grace Hopper"
    assert user.profile.avatar_url == GOOGLE_USER["picture"]
    me = client.get(reverse("api-me")).json()
    assert me["email"] == "grace@example.com" and me["username"]


def test_a_github_profile_passes_the_content_rules_like_the_profile_form(client, github_configured):
    """A bio a block rule refuses is left out (sign-up still works); a censored word is masked."""
    from moderation.models import ProfanityPattern

    ProfanityPattern.objects.create(pattern="automate", action="block", category="spam")
    ProfanityPattern.objects.create(pattern="lisbon", action="censor", category="places")
    with responses.RequestsMock() as rsps:
        _mock_github(rsps)
        response = _github_round_trip(client)
    assert response.status_code == 302
    profile = User.objects.get(email="octo@example.com").profile
    assert profile.bio == ""  # refused by the rule: not copied
    assert profile.location != "Lisbon" and profile.location.startswith("L")  # masked
    assert profile.full_name == "Octo Dev"
