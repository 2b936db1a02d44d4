"""Test helpers for the audit log: prove an action writes exactly one row, with one INSERT."""

from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext

from moderation.models import AuditLog


class Written:
    row: AuditLog | None = None


@contextmanager
def one_audit_row(action: str):
    """Asserts the block writes exactly one ``action`` row (other actions' rows, such as a test client's
    sign-in, are ignored) with one INSERT into audit_logs; the row is ``.row`` afterwards."""
    before = set(AuditLog.objects.values_list("pk", flat=True))
    written = Written()
    with CaptureQueriesContext(connection) as queries:
        yield written
    new = list(AuditLog.objects.exclude(pk__in=before).select_related("actor"))
    mine = [row for row in new if row.action == action]
    assert len(mine) == 1, f"expected one {action} row, got {[row.action for row in new]}"
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "audit_logs"')]
    assert len(inserts) == len(new), inserts  # one INSERT per row written
    written.row = mine[0]


def rows(action: str):
    return list(AuditLog.objects.filter(action=action).order_by("created_at"))
