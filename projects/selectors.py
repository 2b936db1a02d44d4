"""Reads for projects: what a user may see, with their role annotated so lists need no extra queries."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from agentwise.access import can, get_visible
from agentwise.errors import NotFound
from billing import limits

from .models import (
    AgentExecution,
    Budget,
    BudgetMetric,
    Project,
    ProjectCollaborator,
    ProjectStatus,
    ProjectUsage,
    UsageMetric,
)

RESTORE_WINDOW = timedelta(days=30)


def _accepted_membership(user):
    return ProjectCollaborator.objects.filter(project=OuterRef("pk"), user=user, accepted_at__isnull=False)


def project_list_visible_to(*, user, deleted: bool = False) -> QuerySet[Project]:
    """Projects the user owns or collaborates on (accepted), newest ``updated_at`` first.

    ``deleted=True`` lists instead the user's own soft-deleted projects that can still be restored.
    Each row carries ``viewer_role`` and ``viewer_id`` so permission checks need no query per row, and
    its owner's profile; a list page then asks ``billing.limits.projects_note_plan_place`` whether the owners'
    plans still cover its projects (at most two queries per page, whatever the owners own).
    """
    if not user.is_authenticated:
        return Project.objects.none()
    if deleted:
        queryset = Project.objects.filter(
            user=user, status=ProjectStatus.DELETED, deleted_at__gt=timezone.now() - RESTORE_WINDOW
        )
    else:
        queryset = Project.objects.filter(Q(user=user) | Exists(_accepted_membership(user))).exclude(
            status=ProjectStatus.DELETED
        )
    return queryset.select_related("user__profile").annotate(
        viewer_id=Value(str(user.pk), output_field=CharField()),
        viewer_role=Case(
            When(user=user, then=Value("owner")),
            default=Subquery(_accepted_membership(user).values("role")[:1]),
            output_field=CharField(),
        ),
    ).order_by("-updated_at", "-id")


def project_get_visible(*, user, project_id, deleted: bool = False) -> Project:
    """One visible project, with its place among its owner's active projects (``project_writable`` needs no
    further query). Raises NotFound for unknown and invisible alike (a 404, never a 403)."""
    return get_visible(
        limits.projects_annotate_plan_place(project_list_visible_to(user=user, deleted=deleted)), pk=project_id
    )


def invitation_list_for(*, user) -> QuerySet[ProjectCollaborator]:
    return (
        ProjectCollaborator.objects.filter(user=user, accepted_at__isnull=True)
        .exclude(project__status=ProjectStatus.DELETED)
        .select_related("project", "project__user", "invited_by")
        .order_by("-invited_at")
    )


def invitation_get_for(*, user, project_id) -> ProjectCollaborator:
    """The user's pending invitation to a project; NotFound when there is none."""
    return get_visible(invitation_list_for(user=user), project_id=project_id)


def collaborator_list(*, project: Project) -> QuerySet[ProjectCollaborator]:
    return project.collaborators.select_related("user", "user__profile", "invited_by").order_by("invited_at")


def collaborator_get_visible(*, user, project: Project, key) -> ProjectCollaborator:
    """A collaborator row of a project the user may see, by the collaborator's user id or (for an
    invitation by email, which may have no user yet) the row's own id."""
    if not can(user, "projects.view_collaborators", project):
        raise NotFound()
    rows = collaborator_list(project=project)
    try:
        return rows.get(user_id=key)
    except (ProjectCollaborator.DoesNotExist, ValueError, TypeError, ValidationError):
        return get_visible(rows, pk=key)


def execution_list_visible(*, user, project: Project) -> QuerySet[AgentExecution]:
    if not can(user, "projects.view_execution", project):
        raise NotFound()
    return AgentExecution.objects.filter(project=project).order_by("-created_at", "-id")


def execution_list(*, project: Project) -> QuerySet[AgentExecution]:
    return AgentExecution.objects.filter(project=project).order_by("-created_at", "-id")


def execution_get_visible(*, user, project: Project, execution_id) -> AgentExecution:
    execution = get_visible(execution_list_visible(user=user, project=project).select_related("user"), pk=execution_id)
    execution.project = project  # the instance whose role for this user is already known
    return execution


def usage_metric_list(*, user, metric=None, period=None, since=None, until=None) -> QuerySet[UsageMetric]:
    queryset = UsageMetric.objects.filter(user=user)
    if metric:
        queryset = queryset.filter(metric_type=metric)
    if period == "day":
        queryset = queryset.filter(period_start=F("period_end"))
    elif period == "month":
        queryset = queryset.exclude(period_start=F("period_end"))
    if since:
        queryset = queryset.filter(period_end__gte=since)
    if until:
        queryset = queryset.filter(period_start__lte=until)
    return queryset.order_by("-period_start", "metric_type")


def project_daily_tokens(*, project: Project, days: int = 30) -> list[dict]:
    """Tokens used and saved per day for the last ``days`` days (zero-filled), oldest first."""
    end = timezone.localdate()
    start = end - timedelta(days=days - 1)
    rows = (
        AgentExecution.objects.filter(project=project, created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(used=Sum(F("input_tokens") + F("output_tokens")), saved=Sum("tokens_saved"), cost=Sum("cost_micros"))
    )
    by_day = {row["day"]: row for row in rows}
    series = []
    for offset in range(days):
        day: date = start + timedelta(days=offset)
        row = by_day.get(day, {})
        series.append(
            {"day": day, "used": int(row.get("used") or 0), "saved": int(row.get("saved") or 0), "cost": int(row.get("cost") or 0)}
        )
    return series


def project_success_by_agent(*, project: Project, days: int = 30) -> list[dict]:
    since = timezone.now() - timedelta(days=days)
    rows = (
        AgentExecution.objects.filter(project=project, created_at__gte=since)
        .exclude(status="running")
        .values("agent_type")
        .annotate(total=Count("id"), completed=Count("id", filter=Q(status="completed")))
        .order_by("-total")[:12]
    )
    return [
        {**row, "rate": (row["completed"] / row["total"]) if row["total"] else 0.0, "failed": row["total"] - row["completed"]}
        for row in rows
    ]


def budget_list_for(*, user, project: Project | None = None) -> QuerySet[Budget]:
    """A project's budgets (for its members), or the user's account budgets."""
    if project is not None:
        if not can(user, "projects.view_budget", project):
            raise NotFound()
        return Budget.objects.filter(project=project)
    return Budget.objects.filter(user=user, project__isnull=True)


def budget_list_owned(*, user) -> QuerySet[Budget]:
    """Budgets the user owns: their account's, and those of the projects they own now (a project's
    budgets follow it through a transfer)."""
    return Budget.objects.filter(user=user).select_related("project")


def budget_get_owned(*, user, budget_id) -> Budget:
    return get_visible(budget_list_owned(user=user), pk=budget_id)


def budget_statuses(budgets) -> dict:
    """This month's usage against each budget, for any number of budgets in at most two queries."""
    from .metering import month_bounds

    budgets = list(budgets)
    start, end = month_bounds(timezone.localdate())
    user_ids = {b.user_id for b in budgets if not b.project_id}
    project_ids = {b.project_id for b in budgets if b.project_id}
    account_usage = {}
    if user_ids:
        rows = UsageMetric.objects.filter(
            user_id__in=user_ids, metric_type__in=["tokens_used", "cost"], period_start=start, period_end=end
        ).values_list("user_id", "metric_type", "value")
        account_usage = {(user_id, metric): value for user_id, metric, value in rows}
    project_usage = {}
    if project_ids:
        project_usage = {u.project_id: u for u in ProjectUsage.objects.filter(project_id__in=project_ids, period_start=start)}
    statuses = {}
    for budget in budgets:
        if budget.project_id:
            usage = project_usage.get(budget.project_id)
            used = 0 if usage is None else (usage.tokens_used if budget.metric == BudgetMetric.TOKENS else usage.cost_micros)
        else:
            used = account_usage.get((budget.user_id, "tokens_used" if budget.metric == BudgetMetric.TOKENS else "cost"), 0)
        statuses[budget.pk] = {
            "used": int(used),
            "limit": budget.monthly_limit,
            "ratio": used / budget.monthly_limit,
            "warn_at": float(budget.warn_ratio),
            "capped": budget.hard_cap and used >= budget.monthly_limit,
        }
    return statuses


def budget_status(budget) -> dict:
    return budget_statuses([budget])[budget.pk]
