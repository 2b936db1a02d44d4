"""Audit rows for what Django and allauth do themselves: sign-in and sign-out, failed sign-ins, password
and email changes, and every admin add, change and delete (docs/audit-log.md).

These only record: each receiver writes one audit row and changes nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json

from allauth.account import signals as allauth_signals
from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntryManager
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.contenttypes.models import ContentType

from .audit import audit_record, audit_row
from .models import AuditLog

ADMIN_ACTIONS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}
LOGIN_FIELDS = ("login", "email", "username")


def login_identifier_hash(identifier: str) -> str:
    """A keyed hash of an attempted sign-in identifier (case-folded), for correlating failed attempts.

    Never the identifier itself: people type passwords into the email box, and the log must not keep
    them. Keyed with SECRET_KEY so the log alone does not let anyone confirm a guessed address; staff
    who know an address compute its hash with this function to search for it.
    """
    digest = hmac.new(settings.SECRET_KEY.encode(), identifier.strip().casefold().encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def _on_logged_in(sender, request, user, **kwargs):
    audit_record("auth.login", actor=user, resource=user, request=request, metadata={"backend": getattr(user, "backend", "")})


def _on_logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record("auth.logout", actor=user, resource=user, request=request)


def _on_login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in ``credentials``; only the identifier's hash is kept.
    field = next((name for name in LOGIN_FIELDS if credentials.get(name)), "")
    metadata = {"login_field": field, "login_hash": login_identifier_hash(str(credentials[field])) if field else ""}
    audit_record("auth.login_failed", actor=None, request=request, metadata=metadata)


def _password_receiver(action):
    def receiver(sender, request, user, **kwargs):
        audit_record(action, actor=user, resource=user, request=request)  # a reset: the token's owner

    return receiver


def _on_email_added(sender, request, user, email_address, **kwargs):
    audit_record("email.add", actor=user, resource=email_address, request=request,
                 metadata={"email": email_address.email, "verified": email_address.verified})


def _on_email_removed(sender, request, user, email_address, **kwargs):
    audit_record("email.remove", actor=user, resource=email_address, request=request, metadata={"email": email_address.email})


def _on_email_confirmed(sender, request, email_address, **kwargs):
    audit_record("email.confirm", actor=email_address.user_id, resource=email_address, request=request,
                 metadata={"email": email_address.email})


def _on_email_changed(sender, request, user, from_email_address, to_email_address, **kwargs):
    audit_record("email.primary_change", actor=user, resource=to_email_address, request=request, metadata={
        "from": from_email_address.email if from_email_address is not None else "",
        "to": to_email_address.email,
    })


def admin_entries_record(entries) -> list[AuditLog]:
    """One audit row per admin LogEntry, with the changed fields from its change message; all in one
    INSERT (a bulk "delete selected" logs many entries at once)."""
    rows = []
    for entry in entries:
        content_type = ContentType.objects.get_for_id(entry.content_type_id) if entry.content_type_id else None
        rows.append(audit_row(
            ADMIN_ACTIONS.get(entry.action_flag, f"admin.{entry.action_flag}"),
            actor=entry.user_id,
            resource_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
            resource_id=entry.object_id or "",
            metadata={"object_repr": entry.object_repr, "admin_log_id": entry.pk, **admin_changes(entry.change_message)},
        ))
    if len(rows) == 1:
        rows[0].save(force_insert=True)
    elif rows:
        AuditLog.objects.bulk_create(rows)
    return rows


def admin_changes(change_message: str) -> dict:
    """The changed field names of an admin change message: ``changed_fields`` of the object itself, and
    ``related`` for inline objects added, changed or deleted with it. Names only, never values."""
    try:
        parts = json.loads(change_message) if change_message else []
    except json.JSONDecodeError:  # a hand-written message from a custom admin
        return {"message": change_message[:500]}
    if not isinstance(parts, list):
        return {}
    changed_fields, related = [], []
    for part in parts:
        if not isinstance(part, dict):
            continue
        for verb in ("added", "changed", "deleted"):
            detail = part.get(verb)
            if detail is None:
                continue
            if detail.get("name"):  # an inline object
                related.append({"action": verb, "model": detail["name"], "object": detail.get("object", ""),
                                "fields": detail.get("fields", [])})
            elif verb == "changed":
                changed_fields.extend(detail.get("fields", []))
    return {"changed_fields": changed_fields, "related": related}


def _audited(log_actions):
    """Wraps ``LogEntryManager.log_actions``, the one call every ModelAdmin's log_addition, log_change
    and log_deletions make (in the admin view's transaction). A ``post_save`` receiver would miss the
    entries of a bulk "delete selected", which Django writes with ``bulk_create``."""

    @functools.wraps(log_actions)
    def wrapper(self, *args, single_object=False, **kwargs):
        result = log_actions(self, *args, single_object=single_object, **kwargs)
        admin_entries_record([result] if single_object else result)
        return result

    wrapper.audited = True
    return wrapper


def connect() -> None:
    user_logged_in.connect(_on_logged_in, dispatch_uid="moderation.audit.login")
    user_logged_out.connect(_on_logged_out, dispatch_uid="moderation.audit.logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="moderation.audit.login_failed")
    for signal, action in (
        (allauth_signals.password_changed, "auth.password_change"),
        (allauth_signals.password_set, "auth.password_set"),
        (allauth_signals.password_reset, "auth.password_reset"),
    ):
        signal.connect(_password_receiver(action), dispatch_uid=f"moderation.audit.{action}", weak=False)
    allauth_signals.email_added.connect(_on_email_added, dispatch_uid="moderation.audit.email_added")
    allauth_signals.email_removed.connect(_on_email_removed, dispatch_uid="moderation.audit.email_removed")
    allauth_signals.email_confirmed.connect(_on_email_confirmed, dispatch_uid="moderation.audit.email_confirmed")
    allauth_signals.email_changed.connect(_on_email_changed, dispatch_uid="moderation.audit.email_changed")
    if not getattr(LogEntryManager.log_actions, "audited", False):
        LogEntryManager.log_actions = _audited(LogEntryManager.log_actions)
