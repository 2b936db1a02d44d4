"""The one revision mechanism, for blog posts and docs pages alike (after Wagtail's).

Every save makes a revision row: author, time, change summary and a snapshot of the page's
``revision_fields``. The page row holds what the public sees; a draft saved on a live page stays a
revision (``has_unpublished_changes``) until it is published, now or at its ``go_live_at``. A
restore copies an old snapshot into a new revision, so history only grows.
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from . import blocks


def _jsonable(value):
    import json

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(page) -> dict:
    return {name: _jsonable(getattr(page, name)) for name in page.revision_fields}


def apply_snapshot(page, content: dict) -> None:
    """Copies a revision's fields onto the page (not saved). Fields a snapshot lacks keep their value."""
    for name in page.revision_fields:
        if name in content:
            setattr(page, name, content[name])


def revision_record(
    *, page, author, change_summary: str = "", content: dict | None = None, go_live_at=None, live: bool
) -> models.Model:
    """Saves a revision of ``page`` (its current fields unless ``content`` is given).

    ``live``: the snapshot is what the page row now shows (it becomes ``live_revision``); otherwise it is
    a draft over the live version. A new draft cancels any earlier draft's schedule: only the newest
    draft can go live, as in Wagtail.
    """
    now = timezone.now()
    revision = page.revisions.create(
        author=author if getattr(author, "pk", None) else None,
        content=snapshot(page) if content is None else _jsonable(content),
        change_summary=(change_summary or "")[:2000],
        go_live_at=go_live_at,
        published_at=now if live else None,
    )
    page.revisions.filter(published_at__isnull=True, go_live_at__isnull=False).exclude(pk=revision.pk).update(
        go_live_at=None
    )
    page.latest_revision = revision
    if live:
        page.live_revision = revision
        page.has_unpublished_changes = False
    else:
        page.has_unpublished_changes = True
    type(page).objects.filter(pk=page.pk).update(
        latest_revision=revision,
        live_revision=page.live_revision,
        has_unpublished_changes=page.has_unpublished_changes,
    )
    return revision


def mark_published(page, revision) -> None:
    """After ``revision``'s content was applied to the row and saved: it is the live one now."""
    now = timezone.now()
    type(revision).objects.filter(pk=revision.pk).update(published_at=now, go_live_at=None)
    revision.published_at, revision.go_live_at = now, None
    page.live_revision = revision
    page.has_unpublished_changes = page.latest_revision_id not in (None, revision.pk)
    type(page).objects.filter(pk=page.pk).update(
        live_revision=revision, has_unpublished_changes=page.has_unpublished_changes
    )


def draft_revision(page):
    """The newest revision if it is newer than the live version, else None."""
    if not page.has_unpublished_changes or page.latest_revision_id is None:
        return None
    return page.latest_revision


def scheduled_revision(page):
    revision = draft_revision(page)
    return revision if revision is not None and revision.go_live_at else None


# --- compare -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: str
    after: str
    html: str  # a sanitised, escaped side-by-side line diff


def _as_lines(name: str, value) -> list[str]:
    if name == "content" and isinstance(value, list):
        lines = []
        for block in value:
            if not isinstance(block, dict):
                continue
            kind = block.get("type", "?")
            if kind == "code":
                lines.append(f"[code {block.get('language', '')}]")
                lines.extend(str(block.get("text", "")).splitlines())
                lines.append("[/code]")
            elif kind == "heading":
                lines.append("#" * int(block.get("level", 2) or 2) + " " + str(block.get("text", "")))
            elif kind in {"image", "embed"}:
                lines.append(
                    f"[{kind}] {block.get('url', '')} {block.get('alt', '') or block.get('caption', '')}".rstrip()
                )
            else:
                prefix = "" if kind == "paragraph" else f"[{kind}] "
                lines.extend((prefix + str(block.get("text", ""))).splitlines() or [""])
            lines.append("")
        return lines
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    return ("" if value is None else str(value)).splitlines()


def _line_diff_html(before: list[str], after: list[str]) -> str:
    rows = []
    for line in difflib.unified_diff(before, after, lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            rows.append('<li class="diff-hunk">…</li>')
        elif line.startswith("+"):
            rows.append(f'<li class="diff-add"><ins>{html.escape(line[1:]) or "&nbsp;"}</ins></li>')
        elif line.startswith("-"):
            rows.append(f'<li class="diff-del"><del>{html.escape(line[1:]) or "&nbsp;"}</del></li>')
        else:
            rows.append(f'<li class="diff-same">{html.escape(line[1:]) or "&nbsp;"}</li>')
    return '<ol class="diff">' + "".join(rows) + "</ol>"


def revision_compare(model, older: dict, newer: dict) -> list[FieldChange]:
    """What changed between two snapshots, field by field, in reading order (blocks as text)."""
    changes = []
    for name in model.revision_fields:
        before, after = older.get(name), newer.get(name)
        if before == after:
            continue
        field_name = name.removesuffix("_id")
        try:
            label = str(model._meta.get_field(field_name).verbose_name).capitalize()
        except Exception:
            label = field_name
        before_lines, after_lines = _as_lines(name, before), _as_lines(name, after)
        changes.append(
            FieldChange(
                field=name,
                label=label,
                before="\n".join(before_lines),
                after="\n".join(after_lines),
                html=_line_diff_html(before_lines, after_lines),
            )
        )
    return changes


def rendered_preview(content: dict) -> str:
    """A snapshot's body as the public would see it (sanitised)."""
    return blocks.render_blocks(content.get("content") or [])
