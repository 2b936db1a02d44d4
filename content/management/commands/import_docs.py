from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from content.docs_io import DocsFileError, documentation_import


def docs_actor(email: str | None):
    """Who the revisions name as their author: ``email``'s account, or the first active superuser (then
    staff user). Docs are written by staff only, so anyone else is refused up front."""
    users = get_user_model().objects.filter(is_active=True)
    if email:
        actor = users.filter(email__iexact=email).first()
        if actor is None:
            raise CommandError(f"No active user has the email {email}.")
        if not actor.is_staff:
            raise CommandError(f"{email} is not staff: only staff write the docs.")
        return actor
    actor = users.filter(is_staff=True).order_by("-is_superuser", "date_joined", "pk").first()
    if actor is None:
        raise CommandError(
            "No active staff user to record as the author of the revisions: create one "
            "(manage.py createsuperuser) or pass --actor EMAIL."
        )
    return actor


class Command(BaseCommand):
    help = (
        "Imports a folder of markdown files (front matter: title, position, category, slug, published) into a "
        "docs version's tree. Idempotent: only what differs is written, so a second run changes nothing."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names the docs version here, not the Django version every command reports.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--version", dest="docs_version", required=True, help="e.g. latest, 2.0, 1.0")
        parser.add_argument(
            "--actor", help="Email of the staff user the revisions name (default: first superuser)."
        )

    def handle(self, *args, folder: Path, docs_version: str, actor=None, **options):
        user = docs_actor(actor)

        def progress(total):
            return tqdm(total=total, unit="page", file=self.stdout._out, disable=None, leave=False)

        try:
            result = documentation_import(actor=user, folder=folder, version=docs_version, progress=progress)
        except DocsFileError as error:
            raise CommandError(f"Nothing imported: {error}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Docs {docs_version} from {folder}: {len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged."
            )
        )
        for source in result.updated:
            self.stdout.write(f"  updated  {source}")
        for source in result.created:
            self.stdout.write(f"  created  {source}")
        if result.not_in_folder:
            self.stdout.write(
                f"{len(result.not_in_folder)} page(s) of {docs_version} have no file here and were left as they are: "
                + ", ".join(result.not_in_folder[:10])
                + ("…" if len(result.not_in_folder) > 10 else "")
            )
