"""factory_boy factories shared by every test module."""

import factory
from allauth.account.models import EmailAddress

from accounts.models import User

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.Sequence(lambda n: f"user{n:03d}")
    password = factory.django.Password(TEST_PASSWORD)

    @factory.post_generation
    def verified(user, create, extracted, **kwargs):
        """Users sign in only with a confirmed address; factories give them one unless verified=False."""
        if create and extracted is not False:
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


class StaffFactory(UserFactory):
    is_staff = True
    username = factory.Sequence(lambda n: f"staff{n:03d}")
