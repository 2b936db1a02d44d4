"""The "your data" zip: one JSON file per domain, a README, and the member's uploaded files.

Memory stays flat however much a member has: every JSON file is written row by row from a queryset's
``.iterator(chunk_size=...)`` straight into the zip entry's handle (``ZipFile.open(name, "w")``), and
the zip itself goes to a file on disk. Nothing holds a list of rows. Each section reads only rows the
member owns or wrote, filtered by their user id in SQL: nothing of anyone else's (another member's
messages in the same channel, runs in the same project) can reach the file.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from allauth.account.models import EmailAddress
from django.utils.text import get_valid_filename

from agentwise.jsonable import LenientJSONEncoder

from .models import ApiKey, Notification, NotificationPreference, User, UserMute

CHUNK_ROWS = 2000  # rows fetched per round trip (a server-side cursor on PostgreSQL)
COPY_BUFFER = 1024 * 1024


_encode = LenientJSONEncoder(ensure_ascii=False).encode


class JsonObjectWriter:
    """Writes one JSON object to a text stream a member at a time; arrays are streamed row by row."""

    def __init__(self, stream: io.TextIOBase):
        self._stream = stream
        self._first = True
        stream.write("{")

    def _key(self, key: str) -> None:
        self._stream.write("\n" if self._first else ",\n")
        self._first = False
        self._stream.write(f"{_encode(key)}: ")

    def value(self, key: str, value) -> None:
        self._key(key)
        self._stream.write(_encode(value))

    def array(self, key: str, rows: Iterable) -> int:
        """Streams ``rows``; returns how many were written."""
        self._key(key)
        self._stream.write("[")
        count = 0
        for row in rows:
            self._stream.write(",\n  " if count else "\n  ")
            self._stream.write(_encode(row))
            count += 1
        self._stream.write("\n]" if count else "]")
        return count

    def close(self) -> None:
        self._stream.write("\n}\n")


def _rows(queryset, *fields: str, rename: dict | None = None, mapper: Callable[[dict], dict] | None = None) -> Iterator[dict]:
    """The queryset's ``fields`` as dicts, a chunk at a time (``rename``: field → key in the file)."""
    for row in queryset.values(*fields).iterator(chunk_size=CHUNK_ROWS):
        if rename:
            row = {rename.get(key, key): value for key, value in row.items()}
        yield mapper(row) if mapper else row


# --- the sections ------------------------------------------------------------------------------------
# Each section is one JSON file: an object whose values are single records or streamed arrays.


@dataclass(frozen=True)
class Section:
    filename: str
    description: str
    parts: Callable[[User], Iterable[tuple[str, object]]]  # (key, a record, or an iterator of rows)


def _profile(user: User):
    profile = user.profile
    yield "account", {
        "id": user.pk, "email": user.email, "username": user.username, "date_joined": user.date_joined,
        "last_login": user.last_login, "is_active": user.is_active,
    }
    yield "profile", {
        "full_name": profile.full_name, "bio": profile.bio, "company": profile.company, "location": profile.location,
        "website": profile.website, "avatar_url": profile.avatar_url,
        "avatar_file": _avatar_zip_name(profile) or None,
        "github_username": profile.github_username, "twitter_handle": profile.twitter_handle,
        "metadata": profile.metadata, "created_at": profile.created_at, "updated_at": profile.updated_at,
    }
    yield "notification_preferences", _rows(NotificationPreference.objects.filter(user=user).order_by("kind"),
                                            "kind", "delivery", "updated_at")
    yield "muted_users", _rows(UserMute.objects.filter(user=user).order_by("created_at", "pk"),
                               "muted__username", "created_at", rename={"muted__username": "username"})


def _email_addresses(user: User):
    yield "email_addresses", _rows(EmailAddress.objects.filter(user=user).order_by("pk"), "email", "verified", "primary")


def _api_keys(user: User):
    # Never the key or its hash: only what tells keys apart.
    yield "api_keys", _rows(ApiKey.objects.filter(user=user).order_by("created_at", "pk"),
                            "id", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")


def _projects(user: User):
    from projects.models import Project, ProjectCollaborator

    yield "owned_projects", _rows(
        Project.objects.filter(user=user).order_by("created_at", "pk"),
        "id", "name", "description", "type", "status", "tech_stack", "github_repo", "thumbnail_url", "settings",
        "stats", "created_at", "updated_at", "last_accessed_at", "deleted_at",
    )
    # Your memberships of projects (yours or others'): the project's id and your role, not its content.
    yield "collaborations", _rows(
        ProjectCollaborator.objects.filter(user=user).order_by("invited_at", "pk"),
        "project_id", "role", "permissions", "invited_at", "accepted_at",
    )


def _agent_runs(user: User):
    from projects.models import AgentExecution

    yield "agent_runs", _rows(
        AgentExecution.objects.filter(user=user).order_by("created_at", "pk"),
        "id", "project_id", "agent_type", "command", "model", "status", "input_tokens", "output_tokens",
        "cached_input_tokens", "tokens_saved", "execution_time_ms", "cost_micros", "error_message", "metadata",
        "created_at", "completed_at",
    )


def _usage(user: User):
    from projects.models import ProjectUsage, UsageMetric

    yield "usage_counters", _rows(
        UsageMetric.objects.filter(user=user).order_by("period_start", "metric_type", "period_end"),
        "metric_type", "period_start", "period_end", "value",
    )
    yield "project_usage", _rows(
        ProjectUsage.objects.filter(project__user=user).order_by("project_id", "period_start"),
        "project_id", "period_start", "executions", "tokens_used", "tokens_saved", "cost_micros",
    )


def _budgets(user: User):
    from projects.models import Budget

    yield "budgets", _rows(
        Budget.objects.filter(user=user).order_by("created_at", "pk"),
        "id", "project_id", "metric", "monthly_limit", "warn_ratio", "hard_cap", "created_at",
    )


def _edited_by_you(user: User):
    def mapper(row: dict) -> dict:
        row["edited_by_you"] = row.pop("edited_by_id") == user.pk
        return row

    return mapper


def _messages(user: User):
    from community.models import Message, MessageEdit

    yield "messages", _rows(
        Message.objects.filter(user=user).order_by("created_at", "pk"),
        "id", "channel_id", "channel__name", "parent_id", "content", "content_type", "attachments", "created_at",
        "edited_at", "deleted_at", "moderation_state", rename={"channel__name": "channel_name"},
    )
    # The earlier texts of your messages (edit history), oldest first per message.
    yield "edits", _rows(
        MessageEdit.objects.filter(message__user=user).order_by("message_id", "edited_at", "pk"),
        "message_id", "content", "edited_at", "edited_by_id", mapper=_edited_by_you(user),
    )


def _forum(user: User):
    from community.models import ForumPost, ForumPostEdit, ForumReply

    yield "topics", _rows(
        ForumPost.objects.filter(author=user).order_by("created_at", "pk"),
        "id", "channel_id", "channel__name", "title", "content", "tags", "is_pinned", "is_locked", "view_count",
        "reply_count", "created_at", "edited_at", "moderation_state", rename={"channel__name": "channel_name"},
    )
    yield "topic_edits", _rows(
        ForumPostEdit.objects.filter(post__author=user).order_by("post_id", "edited_at", "pk"),
        "post_id", "title", "content", "edited_at", "edited_by_id", mapper=_edited_by_you(user),
    )
    yield "replies", _rows(
        ForumReply.objects.filter(author=user).order_by("created_at", "pk"),
        "id", "post_id", "content", "is_solution", "created_at", "edited_at", "deleted_at", "moderation_state",
    )


def _reactions(user: User):
    from community.models import ForumReaction, Reaction

    yield "chat_reactions", _rows(Reaction.objects.filter(user=user).order_by("created_at", "pk"),
                                  "message_id", "emoji", "created_at")
    yield "forum_reactions", _rows(ForumReaction.objects.filter(user=user).order_by("created_at", "pk"),
                                   "post_id", "reply_id", "emoji", "created_at")


def _notifications(user: User):
    yield "notifications", _rows(
        Notification.objects.filter(user=user).order_by("created_at", "pk"),
        "id", "kind", "title", "body", "url", "data", "created_at", "read_at", "emailed_at", "digested_at",
    )


def _newsletter(user: User):
    from content.models import Subscriber

    subscription = (Subscriber.objects.filter(user=user)
                    .values("email", "status", "source", "created_at", "confirmed_at", "unsubscribed_at", "bounced_at")
                    .first())
    yield "subscription", subscription


def _billing(user: User):
    from djstripe.models import Customer, Invoice

    profile = user.profile
    yield "plan", {
        "tier": profile.subscription_tier, "status": profile.subscription_status,
        "grace_until": profile.subscription_grace_until, "stripe_customer_id": profile.stripe_customer_id,
    }
    yield "customers", _rows(Customer.objects.filter(subscriber=user).order_by("created", "pk"), "id", "livemode", "created")

    def invoices():
        queryset = Invoice.objects.filter(customer__subscriber=user).order_by("created", "pk")
        for invoice in queryset.only("id", "livemode", "created", "stripe_data").iterator(chunk_size=CHUNK_ROWS):
            data = invoice.stripe_data or {}
            yield {
                "id": invoice.id, "number": data.get("number"), "status": data.get("status"),
                "total": data.get("total"), "currency": data.get("currency"), "created": invoice.created,
                "livemode": invoice.livemode, "hosted_invoice_url": data.get("hosted_invoice_url"),
                "invoice_pdf": data.get("invoice_pdf"),
            }

    yield "invoices", invoices()


def _reports(user: User):
    from moderation.models import ItemSource, ModerationItem

    # What you reported and what became of it; not the reported text or the moderators' notes.
    yield "reports", _rows(
        ModerationItem.objects.filter(reported_by=user, source=ItemSource.REPORT).order_by("created_at", "pk"),
        "id", "content_type", "content_id", "reason", "status", "created_at", "resolved_at",
    )


def _audit_log(user: User):
    from moderation.models import AuditLog

    yield "entries", _rows(
        AuditLog.objects.filter(actor=user).order_by("created_at", "pk"),
        "id", "action", "resource_type", "resource_id", "ip_address", "user_agent", "metadata", "created_at",
    )


def _attachments(user: User):
    from community.models import Attachment

    return Attachment.objects.filter(uploader=user).order_by("created_at", "pk")


def _attachment_zip_name(row: dict) -> str:
    return f"files/attachments/{row['id']}-{get_valid_filename(row['name']) or 'file'}"


def _avatar_zip_name(profile) -> str:
    if not profile.avatar:
        return ""
    return f"files/avatar/{get_valid_filename(profile.avatar.name.rsplit('/', 1)[-1])}"


def _files_index(missing: set):
    def parts(user: User):
        def rows():
            for row in _rows(_attachments(user), "id", "name", "size", "content_type", "created_at", "message_id", "file"):
                stored = row.pop("file")
                row["path"] = None if stored in missing else _attachment_zip_name(row)
                yield row

        yield "attachments", rows()
        avatar = _avatar_zip_name(user.profile)
        yield "avatar", ({"path": None if user.profile.avatar.name in missing else avatar} if avatar else None)

    return parts


SECTIONS: list[Section] = [
    Section("profile.json", "Your account (email, handle, dates), profile, notification settings and muted users.", _profile),
    Section("email_addresses.json", "Your email addresses and whether each is verified and primary.", _email_addresses),
    Section("api_keys.json", "Your API keys: names, prefixes and dates. Never the keys themselves or their hashes.", _api_keys),
    Section("projects.json", "Projects you own, and your memberships of projects (role, dates).", _projects),
    Section("agent_runs.json", "Every agent run you reported: tokens, cost, status, timing.", _agent_runs),
    Section("usage.json", "Your usage counters per day and month, and monthly usage of the projects you own.", _usage),
    Section("budgets.json", "Your budgets (account-wide and per project).", _budgets),
    Section("messages.json", "Your chat messages, and the earlier texts of those you edited (edits).", _messages),
    Section("forum.json", "Your forum topics (with their edit history) and replies.", _forum),
    Section("reactions.json", "Your reactions to chat messages and forum posts.", _reactions),
    Section("notifications.json", "Your notifications.", _notifications),
    Section("newsletter.json", "Your newsletter subscription, if any.", _newsletter),
    Section("billing.json", "Your plan, your billing customer records and invoices (links to Stripe's pages and PDFs).", _billing),
    Section("reports.json", "Reports you filed and their outcome.", _reports),
    Section("audit_log.json", "Security and account events you performed (sign-ins, key changes, …).", _audit_log),
]
FILES_SECTION = "files.json"
SECTION_COUNT = len(SECTIONS) + 1  # + the files index


def readme(*, user: User, exported_at: datetime) -> str:
    lines = [
        "Your Agentwise data",
        "===================",
        "",
        f"Account: @{user.username} ({user.email})",
        f"Exported: {exported_at.isoformat()}",
        "",
        "Every .json file is UTF-8 JSON: an object whose lists hold one record per row.",
        "Times are ISO 8601 in UTC; ids are the ones the API uses.",
        "",
    ]
    lines += [f"{section.filename:22} {section.description}" for section in SECTIONS]
    lines += [
        f"{FILES_SECTION:22} The files you uploaded (chat attachments, your avatar) and where each is in files/.",
        f"{'files/':22} The files themselves.",
        "",
    ]
    return "\n".join(lines)


def _text_entry(archive: zipfile.ZipFile, name: str) -> io.TextIOWrapper:
    # force_zip64: an entry may pass 2 GiB, which a plain header cannot state once streaming has begun.
    return io.TextIOWrapper(archive.open(name, "w", force_zip64=True), encoding="utf-8", newline="\n")


def _write_section(archive: zipfile.ZipFile, filename: str, parts: Iterable[tuple[str, object]]) -> int:
    rows = 0
    with _text_entry(archive, filename) as stream:
        writer = JsonObjectWriter(stream)
        for key, value in parts:
            if isinstance(value, dict | list | type(None) | str | int):
                writer.value(key, value)
            else:
                rows += writer.array(key, value)
        writer.close()
    return rows


def _copy_file(archive: zipfile.ZipFile, field_file, name: str) -> bool:
    try:
        source = field_file.storage.open(field_file.name, "rb")
    except (FileNotFoundError, OSError):
        return False
    with source, archive.open(name, "w", force_zip64=True) as target:
        shutil.copyfileobj(source, target, COPY_BUFFER)
    return True


def export_write(*, user: User, target: BinaryIO, exported_at: datetime,
                 progress: Callable[[int, int], None] = lambda sections, rows: None) -> int:
    """Writes the whole zip for ``user`` to ``target`` (a seekable binary file); returns the rows written.
    ``progress(sections_done, rows_written)`` is called after each JSON file."""
    rows = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme(user=user, exported_at=exported_at))
        for done, section in enumerate(SECTIONS, start=1):
            rows += _write_section(archive, section.filename, section.parts(user))
            progress(done, rows)
        missing: set = set()
        for attachment in _attachments(user).only("id", "name", "file").iterator(chunk_size=CHUNK_ROWS):
            name = _attachment_zip_name({"id": attachment.id, "name": attachment.name})
            if not _copy_file(archive, attachment.file, name):
                missing.add(attachment.file.name)
        avatar = user.profile.avatar
        if avatar and not _copy_file(archive, avatar, _avatar_zip_name(user.profile)):
            missing.add(avatar.name)
        rows += _write_section(archive, FILES_SECTION, _files_index(missing)(user))
        progress(SECTION_COUNT, rows)
    return rows

