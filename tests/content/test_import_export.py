"""import_docs and export_docs: a folder of markdown becomes a version's tree through the services;
a second import changes nothing; export, then import, changes nothing either."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from content import services
from content.demo_docs import DEMO_DOCS, seed_docs
from content.docs_io import (
    DocsFileError,
    documentation_import,
    front_matter_dump,
    front_matter_parse,
    markdown_to_blocks,
)
from content.models import Documentation, DocumentationRevision
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def write(folder: Path, relative: str, text: str) -> None:
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.lstrip("\n"), encoding="utf-8")


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "docs"
    write(
        root,
        "getting-started/index.md",
        """
---
title: Getting started
position: 1
category: Start here
---
# Getting started

Welcome.
""",
    )
    write(
        root,
        "getting-started/install.md",
        """
---
title: Install the CLI
position: 2
---
# Install the CLI

Use pip:

```bash
pip install agentwise
```

## Check it

Run `agentwise --version`.
""",
    )
    write(
        root,
        "getting-started/configure.md",
        """
---
title: "Configure: keys and URLs"
position: 1
slug: setup
---
Set `AGENTWISE_KEY`.
""",
    )
    write(root, "reference/tokens.md", "# Tokens\n\nInput plus output.\n")
    write(
        root,
        "faq.md",
        """
---
title: FAQ
position: 9
published: false
---
Ask us.
""",
    )
    write(root, "notes.txt", "not markdown: ignored")
    return root


def run(*args, version: str, **options) -> str:
    out = StringIO()
    call_command(*args, "--version", version, stdout=out, **options)
    return out.getvalue()


def tree(version: str) -> dict:
    pages = {p.pk: p for p in Documentation.objects.filter(version=version)}

    def path(p):
        return (path(pages[p.parent_id]) + "/" if p.parent_id else "") + p.slug

    return {path(p): p for p in pages.values()}


# --- import --------------------------------------------------------------------------------------


def test_a_folder_becomes_a_tree(folder, staff_user):
    output = run("import_docs", str(folder), version="2.0")
    assert "6 created, 0 updated, 0 unchanged" in output
    pages = tree("2.0")
    assert set(pages) == {
        "faq",
        "getting-started",
        "getting-started/install",
        "getting-started/setup",
        "reference",
        "reference/tokens",
    }
    install = pages["getting-started/install"]
    assert install.title == "Install the CLI" and install.position == 2 and install.category == ""
    assert install.content == [
        {"type": "paragraph", "text": "Use pip:"},
        {"type": "code", "language": "bash", "text": "pip install agentwise"},
        {"type": "heading", "text": "Check it", "level": 2},
        {"type": "paragraph", "text": "Run `agentwise --version`."},
    ]  # the leading h1, equal to the title, is dropped
    assert pages["getting-started"].category == "Start here"
    assert pages["getting-started/setup"].title == "Configure: keys and URLs"
    assert pages["reference/tokens"].title == "Tokens"  # from the h1, no front matter
    assert (
        pages["reference"].title == "Reference" and pages["reference"].content == []
    )  # a folder without index.md
    assert pages["faq"].is_published is False
    assert all(p.revisions.get().author == staff_user for p in pages.values())
    assert "Input plus output." in pages["reference/tokens"].search_content


def test_a_second_import_changes_nothing(folder, staff_user):
    run("import_docs", str(folder), version="2.0")
    revisions = DocumentationRevision.objects.count()
    updated_at = {p.pk: p.updated_at for p in Documentation.objects.all()}
    output = run("import_docs", str(folder), version="2.0")
    assert "0 created, 0 updated, 6 unchanged" in output
    assert DocumentationRevision.objects.count() == revisions
    assert {p.pk: p.updated_at for p in Documentation.objects.all()} == updated_at


def test_an_edited_file_updates_its_page_with_a_revision(folder, staff_user):
    run("import_docs", str(folder), version="2.0")
    text = (folder / "getting-started/install.md").read_text().replace("position: 2", "position: 3")
    (folder / "getting-started/install.md").write_text(text.replace("Use pip:", "Use pipx:"))
    output = run("import_docs", str(folder), version="2.0")
    assert "0 created, 1 updated, 5 unchanged" in output and "updated  getting-started/install.md" in output
    install = tree("2.0")["getting-started/install"]
    assert install.position == 3 and install.content[0]["text"] == "Use pipx:"
    latest = install.revisions.order_by("-created_at").first()
    assert (
        latest.change_summary == "Imported from getting-started/install.md" and install.revisions.count() == 2
    )


def test_pages_without_a_file_are_left_alone_and_reported(folder, staff_user):
    run("import_docs", str(folder), version="2.0")
    services.documentation_create(
        actor=staff_user, fields={"title": "Written in the admin", "version": "2.0"}
    )
    output = run("import_docs", str(folder), version="2.0")
    assert "1 page(s) of 2.0 have no file here" in output and "Written in the admin" in output
    assert Documentation.objects.filter(title="Written in the admin").exists()


def test_another_version_is_another_tree(folder, staff_user):
    run("import_docs", str(folder), version="2.0")
    assert "6 created" in run("import_docs", str(folder), version="1.0")
    assert set(tree("1.0")) == set(tree("2.0"))


def test_the_progress_is_reported_per_page(folder, staff_user):
    class Progress:
        def __init__(self, total):
            self.total, self.count, self.closed = total, 0, False

        def update(self, n):
            self.count += n

        def close(self):
            self.closed = True

    bars = []
    documentation_import(
        actor=staff_user,
        folder=folder,
        version="2.0",
        progress=lambda total: bars.append(Progress(total)) or bars[-1],
    )
    assert [(bar.total, bar.count, bar.closed) for bar in bars] == [(6, 6, True)]


@pytest.mark.parametrize(
    ("relative", "text", "message"),
    [
        ("bad.md", "---\ntitle: x\npostion: 2\n---\nbody\n", "bad.md: front matter: line 3"),
        ("bad.md", "---\ntitle: x\nposition: two\n---\n", "position must be a whole number"),
        ("bad.md", "---\ntitle: x\n", "never closed"),
        ("bad.md", "---\ntitle: x\ntitle: y\n---\n", "given twice"),
        ("bad.md", "---\nslug: Not A Slug\n---\n", "not a usable slug"),
        ("bad.md", "---\nposition: 99999999999\n---\n", "position"),
        ("bad.md", "---\ntitle: " + "x" * 300 + "\n---\n", "title: At most 255 characters."),
    ],
)
def test_a_bad_file_imports_nothing_and_is_named(folder, staff_user, relative, text, message):
    write(folder, relative, text)
    with pytest.raises(CommandError) as error:
        run("import_docs", str(folder), version="2.0")
    assert "Nothing imported" in str(error.value) and message in str(error.value)
    assert not Documentation.objects.exists()


def test_two_files_for_one_page_are_refused(folder, staff_user):
    write(folder, "reference.md", "---\ntitle: Reference again\n---\n")
    with pytest.raises(CommandError, match="are both the page “reference”"):
        run("import_docs", str(folder), version="2.0")


def test_the_author_is_a_staff_user(folder, staff_user):
    superuser = StaffFactory(is_superuser=True)
    run("import_docs", str(folder), version="2.0")
    assert Documentation.objects.first().revisions.get().author == superuser  # the first superuser by default
    member = UserFactory()
    with pytest.raises(CommandError, match="not staff"):
        run("import_docs", str(folder), version="2.0", actor=member.email)
    with pytest.raises(CommandError, match="No active user"):
        run("import_docs", str(folder), version="2.0", actor="nobody@example.com")
    run("import_docs", str(folder), version="3.0", actor=staff_user.email.upper())
    assert Documentation.objects.filter(version="3.0").first().revisions.get().author == staff_user


def test_without_a_staff_user_the_import_says_what_to_do(folder, user):
    with pytest.raises(CommandError, match="createsuperuser"):
        run("import_docs", str(folder), version="2.0")


def test_a_bad_version_or_folder_is_refused(folder, staff_user, tmp_path):
    with pytest.raises(CommandError, match="not a version name"):
        run("import_docs", str(folder), version="two words")
    with pytest.raises(CommandError, match="not a folder"):
        run("import_docs", str(tmp_path / "missing"), version="2.0")


# --- markdown ------------------------------------------------------------------------------------


def test_quotes_callouts_images_and_embeds_become_their_blocks():
    title, body = markdown_to_blocks(
        """# Page

Intro.

> **Warning:** Keep keys secret.
> Really.

> Agents are patient.
>
> — Ada

![A chart of tokens](https://example.com/chart.png "Tokens per day")

<https://www.youtube.com/watch?v=abcdefghij>

[A demo](https://vimeo.com/12345)

Text with ![an inline image](https://example.com/i.png) stays a paragraph.

[Not a video](https://example.com/)
""",
        title="Page",
    )
    assert title == "Page"
    assert body == [
        {"type": "paragraph", "text": "Intro."},
        {"type": "callout", "style": "warning", "text": "Keep keys secret.\nReally."},
        {"type": "quote", "text": "Agents are patient.", "attribution": "Ada"},
        {
            "type": "image",
            "url": "https://example.com/chart.png",
            "alt": "A chart of tokens",
            "caption": "Tokens per day",
        },
        {"type": "embed", "url": "https://www.youtube.com/watch?v=abcdefghij", "caption": ""},
        {"type": "embed", "url": "https://vimeo.com/12345", "caption": "A demo"},
        {
            "type": "paragraph",
            "text": "Text with ![an inline image](https://example.com/i.png) stays a paragraph.\n\n"
            "[Not a video](https://example.com/)",
        },
    ]


def test_an_h1_that_is_not_the_title_stays():
    assert markdown_to_blocks("# Other\n\nText.", title="Page") == (
        "Page",
        [{"type": "heading", "text": "Other", "level": 2}, {"type": "paragraph", "text": "Text."}],
    )


def test_front_matter_reads_what_it_writes():
    meta = {
        "title": 'Notes: "quoted" #1',
        "slug": "notes",
        "position": -3,
        "category": "yes",
        "published": False,
    }
    parsed, body = front_matter_parse(front_matter_dump(meta) + "Body")
    assert parsed == meta and body == "Body"
    assert front_matter_parse("no front matter") == ({}, "no front matter")
    assert front_matter_parse("---\n# a comment\ntitle: 'It''s' # trailing\n---\n")[0] == {"title": "It's"}


# --- export --------------------------------------------------------------------------------------


def test_export_then_import_changes_nothing(folder, staff_user, tmp_path):
    run("import_docs", str(folder), version="2.0")
    revisions = DocumentationRevision.objects.count()
    out = tmp_path / "exported"
    assert "6 page(s) written" in run("export_docs", str(out), version="2.0")
    assert (out / "getting-started/index.md").is_file() and (out / "getting-started/setup.md").is_file()
    assert (out / "reference/index.md").is_file() and (out / "faq.md").is_file()
    assert "0 created, 0 updated, 6 unchanged" in run("import_docs", str(out), version="2.0")
    assert DocumentationRevision.objects.count() == revisions


def test_every_block_type_survives_the_round_trip(staff_user, tmp_path):
    content = [
        {"type": "paragraph", "text": "First paragraph."},
        {"type": "paragraph", "text": "Second paragraph, its own block."},
        {"type": "heading", "text": "Details", "level": 3},
        {"type": "code", "language": "python", "text": "print('```')\n\n\nprint(2)"},
        {"type": "quote", "text": "Line one.\n\nLine two.", "attribution": "Grace"},
        {"type": "callout", "style": "tip", "text": "Use **one key** per machine.\n\n- a list"},
        {
            "type": "image",
            "url": "https://example.com/a (1).png",
            "alt": "A [chart]",
            "caption": 'The "daily" view',
        },
        {"type": "embed", "url": "https://www.loom.com/share/" + "a" * 32, "caption": "A walkthrough"},
        {"type": "embed", "url": "https://youtu.be/abcdefghij", "caption": ""},
        {"type": "paragraph", "text": "Last."},
    ]
    parent = services.documentation_create(
        actor=staff_user,
        fields={"title": "Notes #", "version": "7.0", "content": content, "category": "A: b"},
    )
    services.documentation_create(
        actor=staff_user, fields={"title": "Index", "slug": "index", "version": "7.0", "parent": parent}
    )
    services.documentation_create(
        actor=staff_user, fields={"title": "Hidden", "version": "7.0", "is_published": False}
    )
    out = tmp_path / "exported"
    run("export_docs", str(out), version="7.0")
    assert "0 created, 0 updated, 3 unchanged" in run("import_docs", str(out), version="7.0")
    run("import_docs", str(out), version="8.0")
    copied = tree("8.0")
    assert copied["notes"].content == content
    assert copied["notes"].title == "Notes #" and copied["notes"].category == "A: b"
    assert set(copied) == {"notes", "notes/index", "hidden"} and copied["hidden"].is_published is False


def test_export_refuses_to_mix_with_existing_files(folder, staff_user, tmp_path):
    run("import_docs", str(folder), version="2.0")
    out = tmp_path / "exported"
    write(out, "old.md", "---\ntitle: Old\n---\n")
    with pytest.raises(CommandError, match="--clean"):
        run("export_docs", str(out), version="2.0")
    run("export_docs", str(out), version="2.0", clean=True)
    assert not (out / "old.md").exists()
    with pytest.raises(CommandError, match="has no pages"):
        run("export_docs", str(tmp_path / "other"), version="9.9")


# --- the demo docs -------------------------------------------------------------------------------


def test_the_demo_docs_import_and_seed_again_changes_nothing(staff_user, tmp_path):
    created = seed_docs(staff_user)
    latest, old = tree("latest"), tree("1.0")
    assert 25 <= len(latest) <= 40 and 5 <= len(old) < len(latest) and created == len(latest) + len(old)
    assert {"getting-started", "reporting-runs", "api/authentication", "community/realtime-protocol"} <= set(
        latest
    )
    assert all(page.content for page in latest.values())  # every page says something
    revisions = DocumentationRevision.objects.count()
    assert seed_docs(staff_user) == 0 and DocumentationRevision.objects.count() == revisions
    run("export_docs", str(tmp_path / "latest"), version="latest")
    assert f"0 created, 0 updated, {len(latest)} unchanged" in run(
        "import_docs", str(tmp_path / "latest"), version="latest"
    )


def test_every_demo_docs_link_leads_to_a_page(staff_user, client):
    seed_docs(staff_user)
    for version in ("latest", "1.0"):
        for page in tree(version).values():
            for block in page.content:
                for target in _docs_links(block.get("text", "")):
                    assert client.get(target).status_code in (200, 302), (
                        f"{page.title} ({version}) → {target}"
                    )


def _docs_links(text: str) -> list[str]:
    import re

    return re.findall(r"\]\((/docs/[^)\s]*)\)", text)


def test_demo_docs_files_have_front_matter():
    for file in DEMO_DOCS.rglob("*.md"):
        meta, _ = front_matter_parse(file.read_text())
        assert {"title", "position", "category"} <= set(meta), file


def test_the_import_refuses_what_a_file_cannot_hold(folder, staff_user):
    with pytest.raises(DocsFileError):
        documentation_import(actor=staff_user, folder=folder / "faq.md", version="2.0")
