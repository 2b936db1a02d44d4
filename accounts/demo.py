"""Demo accounts for ``manage.py seed_demo``: idempotent, verified, with believable profiles."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.utils import timezone

from .models import User

DEMO_PASSWORD = "agentwise-demo-2026"

DEMO_USERS = [
    {
        "email": "staff@agentwise.test",
        "username": "moderator",
        "staff": True,
        "profile": {"full_name": "Mo Derator", "company": "Agentwise", "bio": "Keeps the community kind."},
    },
    {
        "email": "ada@agentwise.test",
        "username": "ada",
        "profile": {
            "full_name": "Ada Lovelace",
            "company": "Analytical Engines",
            "location": "London",
            "bio": "Runs Claude Code and Codex side by side on a compiler rewrite.",
            "github_username": "ada-l",
            "website": "https://example.com/ada",
            "subscription_tier": "pro",
        },
    },
    {
        "email": "linus@agentwise.test",
        "username": "linus",
        "profile": {
            "full_name": "Linus T.",
            "location": "Portland",
            "bio": "Lets agents write the tests, reviews every diff himself.",
            "github_username": "linus-t",
        },
    },
    {
        "email": "grace@agentwise.test",
        "username": "grace",
        "profile": {
            "full_name": "Grace Hopper",
            "company": "Navy Labs",
            "bio": "Measures tokens saved per refactor.",
            "subscription_tier": "enterprise",
        },
    },
    {
        "email": "ken@agentwise.test",
        "username": "ken",
        "profile": {"full_name": "Ken Thompson", "bio": "Prefers small agents with sharp prompts."},
    },
]


def seed_accounts(*, stdout=None) -> dict[str, User]:
    users = {}
    for spec in DEMO_USERS:
        user = User.objects.filter(email__iexact=spec["email"]).first()
        if user is None:
            user = User.objects.create_user(
                email=spec["email"],
                username=spec["username"],
                password=DEMO_PASSWORD,
                is_staff=spec.get("staff", False),
                is_superuser=spec.get("staff", False),
                # Established members: new-user limits (moderation.sanctions) would refuse the demo's links.
                date_joined=timezone.now() - timedelta(days=60),
            )
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        profile = user.profile
        for field, value in spec["profile"].items():
            setattr(profile, field, value)
        profile.save()
        users[spec["username"]] = user
    return users
