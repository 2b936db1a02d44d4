"""The audit log's one writer (docs/audit-log.md), and the current request it takes the address from."""

from __future__ import annotations

import json
import re
from contextvars import ContextVar

from agentwise.jsonable import LenientJSONEncoder
from agentwise.net import client_ip

from .models import AuditLog

USER_AGENT_MAX_CHARS = 512  # real browsers send < 300; longer is padding or an attack, kept only in part
REDACTED = "[redacted]"
# Metadata keys whose values are never stored, whatever a caller passes (a guard, not a licence).
_SECRET_KEY_RE = re.compile(r"pass(word)?|secret|token|raw_?key|^key$|authorization|cookie|session_?key|csrf", re.I)

_current_request: ContextVar = ContextVar("audit_current_request", default=None)


def current_request():
    """The request being served in this context (set by ``AuditRequestMiddleware``), or None."""
    return _current_request.get()


def current_request_set(request):
    """Makes ``request`` the current one; returns the token ``current_request_reset`` takes."""
    return _current_request.set(request)


def current_request_reset(token) -> None:
    _current_request.reset(token)


def audit_record(action: str, *, actor=None, resource=None, resource_type: str = "", resource_id="", request=None, metadata=None):
    """Appends one ``AuditLog`` row in the caller's transaction: who (``actor``), what (``action``, a
    dotted name), on what (``resource``, or ``resource_type``/``resource_id``), from where (the
    request's trusted client address and user agent, or the current request's when ``request`` is
    None), and ``metadata``. One INSERT."""
    row = audit_row(
        action, actor=actor, resource=resource, resource_type=resource_type, resource_id=resource_id,
        request=request, metadata=metadata,
    )
    row.save(force_insert=True)
    return row


def audit_row(action: str, *, actor=None, resource=None, resource_type: str = "", resource_id="", request=None, metadata=None) -> AuditLog:
    """The unsaved row ``audit_record`` writes; for callers that write several in one bulk INSERT."""
    if resource is not None:
        resource_type = resource_type or resource._meta.label_lower
        resource_id = resource_id or resource.pk
    if request is None:
        request = current_request()
    ip_address, user_agent = _origin(request)
    return AuditLog(
        actor_id=_actor_id(actor),
        action=action[:255],
        resource_type=(resource_type or "")[:100],
        resource_id="" if resource_id is None else str(resource_id)[:64],
        ip_address=ip_address,
        user_agent=user_agent,
        metadata=json_safe(metadata or {}),
    )


def json_safe(value):
    """``value`` as plain JSON types (dates, UUIDs, decimals as text; anything else by ``str``), with the
    values under secret-looking keys replaced by ``[redacted]``."""
    return _redact(json.loads(json.dumps(value, cls=LenientJSONEncoder)))


def _redact(value):
    if isinstance(value, dict):
        return {key: REDACTED if _SECRET_KEY_RE.search(key) else _redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _actor_id(actor):
    if actor is None or not getattr(actor, "is_authenticated", True):
        return None  # anonymous: a failed sign-in, or the system
    return getattr(actor, "pk", actor)


def _origin(request) -> tuple[str | None, str]:
    """The trusted client address (``TRUSTED_PROXY_COUNT``) and user agent of a request or ASGI scope."""
    if request is None:
        return None, ""
    if isinstance(request, dict):  # a websocket consumer's scope
        headers = dict(request.get("headers") or ())
        user_agent = headers.get(b"user-agent", b"").decode("latin-1")
    else:
        user_agent = request.META.get("HTTP_USER_AGENT", "")
    return client_ip(request), user_agent[:USER_AGENT_MAX_CHARS]


def audit_forget(*, user, pseudonym: str, emails=()) -> int:
    """Rewrites the audit log so nothing in it identifies a deleted account (``accounts.deletion``): rows
    about the user name ``pseudonym`` instead of its id, address or handle; rows it acted in lose the
    client address and user agent. The actor link goes with the user row (SET_NULL). Returns rows changed."""
    from django.db.models import Q

    user_id, username = str(user.pk), user.username or ""
    emails = sorted({e.lower() for e in (*emails, user.email or "") if e}, key=len, reverse=True)
    matches = Q(actor_id=user.pk) | Q(resource_id=user_id) | Q(metadata__icontains=user_id)
    for email in emails:
        matches |= Q(metadata__icontains=email)
    if username:
        matches |= Q(metadata__icontains=username)
    rows = AuditLog.objects.filter(matches)
    changed = 0
    for row in rows.iterator(chunk_size=500):
        fields = []
        if row.actor_id == user.pk:
            row.ip_address, row.user_agent = None, ""
            fields += ["ip_address", "user_agent"]
        if row.resource_id == user_id:
            row.resource_id = pseudonym
            fields.append("resource_id")
        metadata = _scrub(row.metadata, user_id=user_id, emails=emails, username=username, pseudonym=pseudonym)
        if metadata != row.metadata:
            row.metadata = metadata
            fields.append("metadata")
        if fields:
            AuditLog.objects.filter(pk=row.pk).update(**{field: getattr(row, field) for field in fields})
            changed += 1
    return changed


def _scrub(value, *, user_id: str, emails, username: str, pseudonym: str):
    """The id and the address anywhere in a text become the pseudonym; the handle only where it is the
    whole value (it may be a common word inside other text)."""
    if isinstance(value, dict):
        return {key: _scrub(item, user_id=user_id, emails=emails, username=username, pseudonym=pseudonym)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, user_id=user_id, emails=emails, username=username, pseudonym=pseudonym) for item in value]
    if isinstance(value, str):
        if username and value.lower() in (username.lower(), f"@{username.lower()}"):
            return pseudonym
        text = value.replace(user_id, pseudonym)
        for email in emails:  # the whole address only: not inside a longer one (bada@… for ada@…)
            text = re.sub(rf"(?<![\w.+-]){re.escape(email)}(?![\w-]|\.\w)", pseudonym, text, flags=re.I)
        return text
    return value
