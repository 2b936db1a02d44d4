from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.credentials import Credential
from accounts.models import User
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Creates a personal API key for a user and prints it (it is not shown again)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="CLI key")
        parser.add_argument("--expires-days", type=int, default=None, help="Expire after N days (default: never).")

    def handle(self, *args, email, name, expires_days, **options):
        try:
            user = User.objects.get(email__iexact=email)
        except User.DoesNotExist:
            raise CommandError(f"No user with email {email!r}.") from None
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            api_key, raw_key = api_key_create(user=user, credential=Credential.console(), name=name, expires_at=expires_at)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stderr.write(f"Created {api_key.name!r} ({api_key.prefix}…) for {user.email}. Store it now:")
        self.stdout.write(raw_key)
