"""The audit log's one writer (docs/audit-log.md). Stub until the audit-log work lands."""

from __future__ import annotations


def audit_record(action: str, *, actor=None, resource=None, resource_type: str = "", resource_id="", request=None, metadata=None):
    """Appends one ``AuditLog`` row in the caller's transaction: who (``actor``), what (``action``, a
    dotted name), on what (``resource``, or ``resource_type``/``resource_id``), from where (the
    request's trusted client address and user agent, or the current request's when ``request`` is
    None), and ``metadata``. One INSERT."""
    return None
