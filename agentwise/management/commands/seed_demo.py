from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.demo import DEMO_PASSWORD, DEMO_USERS, seed_accounts
from community.demo import seed_community, seed_forum
from content.demo_blog import seed_blog
from content.demo_docs import seed_docs
from content.newsletter.demo import seed_newsletter
from moderation.demo import seed_moderation
from projects.demo import seed_projects


class Command(BaseCommand):
    help = "Fills the database with a believable demo (safe to run again) and prints how to sign in."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production", action="store_true", help="Run even with DEBUG off (demo passwords are public)."
        )

    def handle(self, *args, allow_production=False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError("Refusing to seed demo users with DEBUG off; pass --allow-production to insist.")
        with transaction.atomic():
            users = seed_accounts()
            executions = seed_projects(users)
            messages = seed_community(users)
            topics = seed_forum(users)
            staff = next(user for user in users.values() if user.is_staff)
            posts = len(seed_blog(staff))
            pages = seed_docs(staff)
            subscribers = seed_newsletter(users, staff)
            reports = seed_moderation(users)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {len(users)} users, {executions} new executions, {messages} new messages, "
                f"{topics} new forum topics, "
                f"{posts} new blog posts, {pages} new docs pages, {subscribers} new newsletter subscribers, "
                f"a sent campaign, and {reports} new reports with content rules and a blocked scanner."
            )
        )
        self.stdout.write("Sign in at http://localhost:8000/account/login/ with any of:")
        for spec in DEMO_USERS:
            role = "staff (admin at /admin/)" if spec.get("staff") else "member"
            self.stdout.write(f"  {spec['email']:<26} password: {DEMO_PASSWORD}   {role}")
