from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from content.docs_io import documentation_export
from content.selectors import documentation_version_pages


class Command(BaseCommand):
    help = (
        "Writes a docs version's tree as markdown files with front matter, in the layout import_docs reads "
        "(export, then import, changes nothing). Live content; unpublished pages are marked published: false."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names the docs version here, not the Django version every command reports.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--version", dest="docs_version", required=True)
        parser.add_argument(
            "--clean",
            action="store_true",
            help="Delete the folder's existing .md files first (else it must be empty).",
        )

    def handle(self, *args, folder: Path, docs_version: str, clean=False, **options):
        if not documentation_version_pages(docs_version).exists():
            raise CommandError(f"Version {docs_version} has no pages.")
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        existing = sorted(folder.rglob("*.md")) if folder.exists() else []
        if existing and not clean:
            raise CommandError(f"{folder} already holds markdown files; pass --clean to replace them.")
        for file in existing:
            file.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        written = documentation_export(folder=folder, version=docs_version)
        self.stdout.write(
            self.style.SUCCESS(f"Docs {docs_version}: {len(written)} page(s) written to {folder}.")
        )
