"""Per-user dashboard aggregates, cached (Redis when configured) and invalidated by new executions."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from billing import limits

from . import metering
from .models import Project, ProjectStatus, UsageMetric
from .services import usage_cache_version

CACHE_SECONDS = 300


def user_usage_summary(user) -> dict:
    """This period's usage against the plan. Executions bump the cache version, so it is never stale."""
    key = f"usage-summary:{user.pk}:v{usage_cache_version(user.pk)}"
    summary = cache.get(key)
    if summary is None:
        today = timezone.localdate()
        month_start, month_end = metering.month_bounds(today)
        rows = UsageMetric.objects.filter(user=user).filter(
            Q(period_start=month_start, period_end=month_end) | Q(metric_type="api_calls", period_start=today, period_end=today)
        ).values_list("metric_type", "period_start", "period_end", "value")
        values = dict.fromkeys(("executions", "tokens_used", "tokens_saved", "cost", "projects_created", "api_calls_today"), 0)
        for metric, start, end, value in rows:
            if start == end:
                values["api_calls_today"] = value
            elif metric in values:
                values[metric] = value
        values["active_projects"] = Project.objects.filter(user=user, status=ProjectStatus.ACTIVE).count()
        summary = {"usage": values, "limits": limits.plan_limits_for(user)}
        cache.set(key, summary, CACHE_SECONDS)
    return summary


def limit_rows(summary: dict) -> list[dict]:
    usage, plan = summary["usage"], summary["limits"]
    rows = [
        ("Active projects", usage["active_projects"], plan.get("max_active_projects")),
        ("Executions this month", usage["executions"], plan.get("executions_per_month")),
        ("API calls today", usage["api_calls_today"], plan.get("api_calls_per_day")),
    ]
    return [
        {
            "label": label,
            "used": used,
            "allowed": allowed,
            "ratio": (min(1.0, used / allowed) if allowed else 0.0),
            "over": allowed is not None and used >= allowed,
        }
        for label, used, allowed in rows
    ]
