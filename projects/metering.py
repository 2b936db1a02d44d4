"""Usage counters, incremented atomically in the database: one upsert statement per event.

Never read-modify-write in Python: ``INSERT … ON CONFLICT … DO UPDATE SET value = value + excluded.value``
is atomic on PostgreSQL and SQLite alike, so concurrent reports always add up.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, date, datetime

from django.db import connection
from django.utils import timezone

from .models import ProjectUsage, UsageMetric

PERIODS = ("day", "month")


def month_bounds(day: date) -> tuple[date, date]:
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_bounds(day: date, period: str) -> tuple[date, date]:
    return (day, day) if period == "day" else month_bounds(day)


def _today(at: datetime | None) -> date:
    return timezone.localdate(at or timezone.now(), UTC)


def usage_increment(*, user_id, counts: dict[str, int], at: datetime | None = None) -> dict[tuple[str, str], int]:
    """Adds ``counts`` to the user's day and month counters in one statement; returns the new values.

    The result maps ``(metric, "day"|"month")`` to the counter's value after this increment.
    """
    counts = {metric: int(n) for metric, n in counts.items() if n}
    if not counts:
        return {}
    day = _today(at)
    now = timezone.now()
    ops = connection.ops
    pk_field = UsageMetric._meta.pk
    user_field = UsageMetric._meta.get_field("user")
    rows, params = [], []
    for metric, amount in counts.items():
        for period in PERIODS:
            start, end = period_bounds(day, period)
            rows.append("(%s, %s, %s, %s, %s, %s, '{}', %s)")
            params += [
                pk_field.get_db_prep_value(uuid.uuid4(), connection),
                user_field.get_db_prep_value(user_id, connection),
                metric,
                amount,
                ops.adapt_datefield_value(start),
                ops.adapt_datefield_value(end),
                ops.adapt_datetimefield_value(now),
            ]
    table = UsageMetric._meta.db_table
    sql = (
        f"INSERT INTO {table} (id, user_id, metric_type, value, period_start, period_end, metadata, created_at) "
        f"VALUES {', '.join(rows)} "
        f"ON CONFLICT (user_id, metric_type, period_start, period_end) "
        f"DO UPDATE SET value = {table}.value + excluded.value "
        f"RETURNING metric_type, period_start, period_end, value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    result = {}
    for metric, start, end, value in returned:
        period = "day" if str(start) == str(end) else "month"
        result[(metric, period)] = int(value)
    return result


def project_usage_increment(
    *, project_id, at: datetime | None = None, executions=0, tokens_used=0, tokens_saved=0, cost_micros=0
) -> None:
    """Adds to a project's monthly counters in one statement (for project budgets)."""
    if not any((executions, tokens_used, tokens_saved, cost_micros)):
        return
    start, _ = month_bounds(_today(at))
    table = ProjectUsage._meta.db_table
    project_field = ProjectUsage._meta.get_field("project")
    sql = (
        f"INSERT INTO {table} (project_id, period_start, executions, tokens_used, tokens_saved, cost_micros) "
        f"VALUES (%s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT (project_id, period_start) DO UPDATE SET "
        f"executions = {table}.executions + excluded.executions, "
        f"tokens_used = {table}.tokens_used + excluded.tokens_used, "
        f"tokens_saved = {table}.tokens_saved + excluded.tokens_saved, "
        f"cost_micros = {table}.cost_micros + excluded.cost_micros"
    )
    params = [
        project_field.get_db_prep_value(project_id, connection),
        connection.ops.adapt_datefield_value(start),
        executions,
        tokens_used,
        tokens_saved,
        cost_micros,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def usage_value(*, user_id, metric: str, period: str = "month", at: datetime | None = None) -> int:
    start, end = period_bounds(_today(at), period)
    value = (
        UsageMetric.objects.filter(user_id=user_id, metric_type=metric, period_start=start, period_end=end)
        .values_list("value", flat=True)
        .first()
    )
    return int(value or 0)


def project_month_usage(*, project_id, at: datetime | None = None) -> ProjectUsage:
    start, _ = month_bounds(_today(at))
    usage = ProjectUsage.objects.filter(project_id=project_id, period_start=start).first()
    return usage or ProjectUsage(project_id=project_id, period_start=start)
