"""factory_boy factories shared by every test module."""

from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts.models import User

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.Sequence(lambda n: f"user{n:03d}")
    password = factory.django.Password(TEST_PASSWORD)
    # Established accounts: new-user limits (moderation.sanctions) apply only where a test passes a recent date_joined.
    date_joined = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))

    @factory.post_generation
    def verified(user, create, extracted, **kwargs):
        """Users sign in only with a confirmed address; factories give them one unless verified=False."""
        if create and extracted is not False:
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


class StaffFactory(UserFactory):
    is_staff = True
    username = factory.Sequence(lambda n: f"staff{n:03d}")


def make_api_key(user, name: str = "test key", **kwargs):
    """A real API key for ``user``, as an operator mints one from the console; returns (key, secret)."""
    from accounts.credentials import Credential
    from accounts.services import api_key_create

    return api_key_create(user=user, credential=Credential.console(), name=name, **kwargs)


def sign_in(client, user):
    """Signs ``user`` in on ``client`` as a real sign-in does, recording it the way allauth does:
    actions that need a recent sign-in (creating an API key) accept the session for 5 minutes."""
    import time

    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )

    client.force_login(user)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [{"method": "password", "at": time.time(), "email": user.email}]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()
    return client


class SubscriberFactory(factory.django.DjangoModelFactory):
    """An active (confirmed) newsletter subscriber unless told otherwise."""

    class Meta:
        model = "content.Subscriber"

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    status = "active"
    source = "form"
    confirmed_at = factory.LazyFunction(timezone.now)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "content.Campaign"

    subject = factory.Sequence(lambda n: f"Agentwise news #{n}")
    preheader = "What changed this month"
    content = factory.LazyFunction(
        lambda: [
            {"type": "heading", "level": 2, "text": "Token savings"},
            {"type": "paragraph", "text": "Agents saved **42%** of tokens this month. [Read more](/blog/)"},
        ]
    )
