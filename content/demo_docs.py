"""The demo's documentation: a real docs set about using Agentwise (``content/demo_docs/<version>/``),
imported like any docs folder, so seeding twice changes nothing."""

from __future__ import annotations

from pathlib import Path

from .docs_io import documentation_import

DEMO_DOCS = Path(__file__).resolve().parent / "demo_docs"
VERSIONS = ("latest", "1.0")  # two, so the version switcher has something to switch


def seed_docs(actor) -> int:
    """Imports every demo version as ``actor`` (a staff user); returns how many pages were created."""
    created = 0
    for version in VERSIONS:
        result = documentation_import(actor=actor, folder=DEMO_DOCS / version, version=version)
        created += len(result.created)
    return created
