"""Writes for projects: projects, collaborators, executions, budgets. Every door calls these.

Each service checks permissions (``projects/permissions.py``) and plan limits (``projects/limits.py``),
changes state in one transaction, meters usage with single atomic upserts (``projects/metering.py``),
queues emails in the outbox (sent after commit) and sends realtime events only after commit.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts.notifications import notification_send
from agentwise.errors import Refusal
from agentwise.mail import email_enqueue, templated_email

from . import limits, metering
from .models import (
    AgentExecution,
    Budget,
    BudgetMetric,
    CollaboratorRole,
    ExecutionStatus,
    Project,
    ProjectCollaborator,
    ProjectStatus,
)
from .pricing import execution_cost_micros, micros_to_usd
from .selectors import RESTORE_WINDOW

User = get_user_model()

PROJECT_FIELDS = ("name", "description", "type", "tech_stack", "github_repo", "thumbnail_url", "settings", "stats")
ACCESS_RESOLUTION_SECONDS = 60


class NotFound(Http404):
    """The object is not visible to the actor; every door answers 404 so existence does not leak."""


def _require(actor, perm: str, obj, message: str) -> None:
    if not actor.has_perm(perm, obj):
        if actor.has_perm("projects.view_project", obj):
            raise PermissionDenied(message)
        raise NotFound()


def _lock_user(user) -> None:
    """Serialises a user's limit checks (count, then insert) so concurrent requests cannot both pass."""
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


def _active_project_count(user) -> int:
    return Project.objects.filter(user=user, status=ProjectStatus.ACTIVE).count()


def usage_cache_bump(user_id) -> None:
    """Invalidates the user's cached dashboard aggregates (they are keyed by this version)."""
    key = f"usage-version:{user_id}"
    if not cache.add(key, 1, timeout=None):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=None)


def usage_cache_version(user_id) -> int:
    return cache.get_or_set(f"usage-version:{user_id}", 1, timeout=None)


# --- Projects ---------------------------------------------------------------------------------


def _project_values(data: dict) -> dict:
    """The project fields given in ``data``; repeated tech tags (in any case) are dropped, first spelling kept."""
    values = {field: data[field] for field in PROJECT_FIELDS if field in data}
    if isinstance(values.get("tech_stack"), list):
        seen: set[str] = set()
        values["tech_stack"] = [
            tag for tag in values["tech_stack"]
            if not isinstance(tag, str) or not (tag.strip().lower() in seen or seen.add(tag.strip().lower()))
        ]
    return values


@transaction.atomic
def project_create(*, actor, data: dict) -> Project:
    """Creates a project owned by ``actor`` (any ``user``/owner in ``data`` is ignored)."""
    if not actor.has_perm("projects.add_project"):
        raise PermissionDenied("You cannot create projects.")
    _lock_user(actor)
    limits.require_below(user=actor, limit="max_active_projects", current=_active_project_count(actor))
    project = Project(user=actor, **_project_values(data))
    project.full_clean()
    project.save()
    metering.usage_increment(user_id=actor.pk, counts={"projects_created": 1})
    transaction.on_commit(lambda: usage_cache_bump(actor.pk))
    return project


@transaction.atomic
def project_update(*, actor, project: Project, data: dict) -> Project:
    """Changes fields and moves between active and archived (re-activating counts against the plan)."""
    _require(actor, "projects.change_project", project, "Viewers cannot change the project.")
    values = _project_values(data)
    changed = list(values)
    for field, value in values.items():
        setattr(project, field, value)
    new_status = data.get("status")
    if new_status and new_status != project.status:
        if new_status not in (ProjectStatus.ACTIVE, ProjectStatus.ARCHIVED):
            raise ValidationError({"status": "Use DELETE to delete a project; status can be active or archived."})
        if new_status == ProjectStatus.ACTIVE:
            _lock_user(project.user)
            limits.require_below(
                user=project.user, limit="max_active_projects", current=_active_project_count(project.user)
            )
        project.status = new_status
        changed.append("status")
    project.full_clean()
    project.save(update_fields=[*changed, "updated_at"] if changed else None)
    return project


@transaction.atomic
def project_delete(*, actor, project: Project) -> Project:
    """Soft delete: hidden everywhere at once, restorable by the owner for 30 days, then purged."""
    _require(actor, "projects.delete_project", project, "Only the owner can delete the project.")
    project.status_before_delete = project.status
    project.status = ProjectStatus.DELETED
    project.deleted_at = timezone.now()
    project.save(update_fields=["status", "status_before_delete", "deleted_at", "updated_at"])
    return project


@transaction.atomic
def project_restore(*, actor, project: Project) -> Project:
    if not actor.has_perm("projects.restore_project", project) or project.status != ProjectStatus.DELETED:
        raise NotFound()
    if project.deleted_at is None or project.deleted_at <= timezone.now() - RESTORE_WINDOW:
        raise NotFound()
    restored_status = project.status_before_delete or ProjectStatus.ACTIVE
    if restored_status == ProjectStatus.ACTIVE:
        _lock_user(actor)
        limits.require_below(user=actor, limit="max_active_projects", current=_active_project_count(actor))
    project.status = restored_status
    project.deleted_at = None
    project.status_before_delete = ""
    project.save(update_fields=["status", "status_before_delete", "deleted_at", "updated_at"])
    return project


@transaction.atomic
def project_transfer(*, actor, project: Project, new_owner) -> Project:
    """Hands the project to an accepted collaborator; the old owner stays on as an editor."""
    _require(actor, "projects.transfer_project", project, "Only the owner can transfer the project.")
    membership = ProjectCollaborator.objects.filter(
        project=project, user=new_owner, accepted_at__isnull=False
    ).first()
    if membership is None:
        raise ValidationError({"user": "The new owner must be a collaborator who accepted their invitation."})
    if project.status == ProjectStatus.ACTIVE:
        _lock_user(new_owner)
        limits.require_below(user=new_owner, limit="max_active_projects", current=_active_project_count(new_owner))
    old_owner = project.user
    membership.delete()
    ProjectCollaborator.objects.create(
        project=project,
        user=old_owner,
        role=CollaboratorRole.EDITOR,
        invited_by=new_owner,
        accepted_at=timezone.now(),
    )
    project.user = new_owner
    project.save(update_fields=["user", "updated_at"])
    project.__dict__.pop("_role_for", None)
    return project


def project_touch(*, project: Project) -> None:
    """Records that the project was opened, writing at most once a minute per project."""
    if cache.add(f"project-accessed:{project.pk}", 1, timeout=ACCESS_RESOLUTION_SECONDS):
        now = timezone.now()
        Project.objects.filter(pk=project.pk).update(last_accessed_at=now)
        project.last_accessed_at = now


def project_purge_expired(*, now=None) -> int:
    """Deletes for good the projects soft-deleted more than 30 days ago. Safe to run twice."""
    cutoff = (now or timezone.now()) - RESTORE_WINDOW
    deleted, _ = Project.objects.filter(status=ProjectStatus.DELETED, deleted_at__lte=cutoff).delete()
    return deleted


# --- Collaborators --------------------------------------------------------------------------


@transaction.atomic
def collaborator_invite(*, actor, project: Project, invitee, role: str) -> ProjectCollaborator:
    _require(actor, "projects.manage_collaborators", project, "Only the owner can invite collaborators.")
    if role not in (CollaboratorRole.EDITOR, CollaboratorRole.VIEWER):
        raise ValidationError({"role": "Invite as editor or viewer; ownership is transferred, not invited."})
    if invitee.pk == project.user_id:
        raise ValidationError({"user": "The owner is already on the project."})
    if not invitee.is_active:
        raise ValidationError({"user": "This account is disabled."})
    _lock_user(project.user)
    if ProjectCollaborator.objects.filter(project=project, user=invitee).exists():
        raise ValidationError({"user": f"{invitee.username} is already invited to this project."})
    limits.require_below(
        user=project.user,
        limit="max_collaborators_per_project",
        current=ProjectCollaborator.objects.filter(project=project).count(),
    )
    collaborator = ProjectCollaborator.objects.create(project=project, user=invitee, role=role, invited_by=actor)
    invitation_email_enqueue(invitation=collaborator)
    return collaborator


def invitation_email_enqueue(*, invitation: ProjectCollaborator) -> None:
    """Queues the invitation email in the outbox, in the caller's transaction (sent after commit)."""
    inviter = invitation.invited_by
    message = templated_email(
        subject=f"{inviter.username if inviter else 'Someone'} invited you to “{invitation.project.name}” on Agentwise",
        template="projects/email/invitation",
        context={
            "invitation": invitation,
            "project": invitation.project,
            "inviter": inviter,
            "accept_url": f"{settings.SITE_URL}/projects/{invitation.project_id}/invitation/",
        },
        to=[invitation.user.email],
    )
    email_enqueue(message, kind="projects/email/invitation")


@transaction.atomic
def collaborator_update(*, actor, collaborator: ProjectCollaborator, role: str) -> ProjectCollaborator:
    _require(actor, "projects.manage_collaborators", collaborator.project, "Only the owner can change roles.")
    if role not in (CollaboratorRole.EDITOR, CollaboratorRole.VIEWER):
        raise ValidationError({"role": "A collaborator is an editor or a viewer."})
    collaborator.role = role
    collaborator.save(update_fields=["role"])
    return collaborator


@transaction.atomic
def collaborator_remove(*, actor, collaborator: ProjectCollaborator) -> None:
    """The owner removes anyone; a collaborator may remove themselves (leave the project)."""
    if collaborator.user_id != actor.pk:
        _require(actor, "projects.manage_collaborators", collaborator.project, "Only the owner can remove others.")
    collaborator.delete()


@transaction.atomic
def invitation_accept(*, invitation: ProjectCollaborator) -> ProjectCollaborator:
    if invitation.accepted_at is None:
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
    return invitation


@transaction.atomic
def invitation_decline(*, invitation: ProjectCollaborator) -> None:
    """Declining removes the invitation, so the owner may invite again later."""
    invitation.delete()


# --- Executions -------------------------------------------------------------------------------

TERMINAL = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "tokens_saved")


def _budget_usage(budget: Budget, *, at=None) -> int:
    if budget.project_id:
        usage = metering.project_month_usage(project_id=budget.project_id, at=at)
        return usage.tokens_used if budget.metric == BudgetMetric.TOKENS else usage.cost_micros
    metric = "tokens_used" if budget.metric == BudgetMetric.TOKENS else "cost"
    return metering.usage_value(user_id=budget.user_id, metric=metric, period="month", at=at)


def _budgets_for(*, user, project: Project):
    return Budget.objects.filter(project=project) | Budget.objects.filter(user=user, project__isnull=True)


def _format_budget(budget: Budget, value: int) -> str:
    if budget.metric == BudgetMetric.COST:
        return f"${micros_to_usd(value):,.2f}"
    return f"{value:,} tokens"


def _enforce_budget_caps(*, user, project: Project) -> None:
    for budget in _budgets_for(user=user, project=project).filter(hard_cap=True):
        used = _budget_usage(budget)
        if used >= budget.monthly_limit:
            scope = f"project “{project.name}”" if budget.project_id else "your account"
            raise Refusal(
                status_code=402,
                code="budget_exceeded",
                message=(
                    f"The monthly {budget.get_metric_display().lower()} budget of {scope} is used up "
                    f"({_format_budget(budget, used)} of {_format_budget(budget, budget.monthly_limit)}); "
                    "raise the budget or turn off its hard cap to record more executions."
                ),
                extra={
                    "budget_id": str(budget.pk),
                    "limit": f"budget_{budget.metric}",
                    "allowed": budget.monthly_limit,
                    "current": used,
                    "upgrade_url": f"/projects/{project.pk}/" if budget.project_id else "/account/usage/",
                },
            )


def _warn_budgets(*, user, project: Project) -> None:
    """Notifies each budget's owner once per month when usage crosses the warning threshold."""
    period, _ = metering.month_bounds(timezone.localdate())
    for budget in _budgets_for(user=user, project=project).select_related("user", "project"):
        if budget.warned_period == period:
            continue
        used = _budget_usage(budget)
        if Decimal(used) < budget.warn_ratio * budget.monthly_limit:
            continue
        # Claim this month's warning atomically: concurrent executions send it once.
        claimed = Budget.objects.filter(pk=budget.pk).exclude(warned_period=period).update(warned_period=period)
        if not claimed:
            continue
        scope = f"project “{budget.project.name}”" if budget.project_id else "your account"
        percent = int(used * 100 / budget.monthly_limit)
        notification_send(
            user=budget.user,
            kind="budget_warning",
            title=f"{percent}% of the monthly {budget.get_metric_display().lower()} budget of {scope} is used",
            body=(
                f"{_format_budget(budget, used)} of {_format_budget(budget, budget.monthly_limit)} used this month."
                + (" New executions will be refused once it is reached." if budget.hard_cap else "")
            ),
            url=f"/projects/{budget.project_id}/" if budget.project_id else "/account/usage/",
            data={"budget_id": str(budget.pk), "used": used, "limit": budget.monthly_limit, "percent": percent},
            email=True,
        )


def _meter_tokens(execution: AgentExecution) -> None:
    """Meters an execution's tokens and cost (user and project) once it is finished."""
    execution.cost_micros = execution_cost_micros(
        model=execution.model,
        input_tokens=execution.input_tokens,
        output_tokens=execution.output_tokens,
        cached_input_tokens=execution.cached_input_tokens,
    )
    metering.usage_increment(
        user_id=execution.user_id,
        counts={
            "tokens_used": execution.tokens_used,
            "tokens_saved": execution.tokens_saved,
            "cost": execution.cost_micros,
        },
    )
    metering.project_usage_increment(
        project_id=execution.project_id,
        tokens_used=execution.tokens_used,
        tokens_saved=execution.tokens_saved,
        cost_micros=execution.cost_micros,
    )


def _validate_tokens(data: dict) -> None:
    if data.get("cached_input_tokens", 0) > data.get("input_tokens", 0):
        raise ValidationError({"cached_input_tokens": "Cannot exceed input_tokens."})


def execution_record(
    *, actor, project: Project, data: dict, idempotency_key: str | None = None
) -> tuple[AgentExecution, bool]:
    """Records an agent run — started (``running``) or already finished — and meters it.

    With an ``idempotency_key``, a retry returns the first result instead of a duplicate:
    the second element of the result is False then.
    """
    _require(actor, "projects.add_execution", project, "Viewers cannot record executions.")
    if idempotency_key:
        existing = AgentExecution.objects.filter(user=actor, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _same_request_or_conflict(existing, project)
    _validate_tokens(data)
    try:
        with transaction.atomic():
            execution = _execution_create(actor=actor, project=project, data=data, idempotency_key=idempotency_key)
    except IntegrityError:
        # A concurrent retry with the same key won the race; answer with its result.
        existing = AgentExecution.objects.filter(user=actor, idempotency_key=idempotency_key).first()
        if idempotency_key and existing is not None:
            return _same_request_or_conflict(existing, project)
        raise
    return execution, True


def _same_request_or_conflict(existing: AgentExecution, project: Project) -> tuple[AgentExecution, bool]:
    if existing.project_id != project.pk:
        raise Refusal(
            status_code=409,
            code="idempotency_key_reused",
            message="This Idempotency-Key was already used for an execution in another project.",
        )
    return existing, False


def _execution_create(*, actor, project: Project, data: dict, idempotency_key: str | None) -> AgentExecution:
    status = data.get("status", ExecutionStatus.RUNNING)
    _enforce_budget_caps(user=actor, project=project)
    # Count first, in the same statement that locks the counter row: concurrent reports serialise here,
    # so the monthly limit is exact, and a refusal rolls the increment back with everything else.
    counters = metering.usage_increment(user_id=actor.pk, counts={"executions": 1})
    allowed = limits.plan_limits_for(actor).get("executions_per_month")
    month_count = counters[("executions", "month")]
    if allowed is not None and month_count > allowed:
        raise limits.plan_limit_refusal(
            user=actor, limit="executions_per_month", allowed=allowed, current=month_count - 1
        )
    metering.project_usage_increment(project_id=project.pk, executions=1)
    now = timezone.now()
    execution = AgentExecution(
        project=project,
        user=actor,
        idempotency_key=idempotency_key or None,
        status=status,
        created_at=now,
        completed_at=now if status in TERMINAL else None,
        **{
            field: data[field]
            for field in (
                "agent_type",
                "command",
                "model",
                *TOKEN_FIELDS,
                "execution_time_ms",
                "error_message",
                "metadata",
            )
            if field in data
        },
    )
    if status in TERMINAL:
        _meter_tokens(execution)
    execution.save(force_insert=True)
    Project.objects.filter(pk=project.pk).update(updated_at=now)
    if status in TERMINAL:
        _warn_budgets(user=actor, project=project)
    transaction.on_commit(lambda: usage_cache_bump(actor.pk))
    return execution


@transaction.atomic
def execution_finish(*, actor, execution: AgentExecution, data: dict) -> AgentExecution:
    """Completes or fails a running execution; the server sets ``completed_at``. Only once (else 409)."""
    project = execution.project
    _require(actor, "projects.change_execution", project, "Viewers cannot change executions.")
    locked = AgentExecution.objects.select_for_update().get(pk=execution.pk)
    status = data.get("status")
    if locked.status in TERMINAL:
        raise Refusal(
            status_code=409,
            code="execution_finished",
            message=f"This execution is already {locked.status}; finished executions cannot change.",
        )
    if status not in TERMINAL:
        raise ValidationError({"status": "Set status to completed or failed to finish the execution."})
    merged = {field: data.get(field, getattr(locked, field)) for field in TOKEN_FIELDS}
    _validate_tokens(merged)
    for field in (*TOKEN_FIELDS, "execution_time_ms", "error_message", "metadata", "model"):
        if field in data:
            setattr(locked, field, data[field])
    locked.status = status
    locked.completed_at = timezone.now()
    if locked.execution_time_ms is None:
        locked.execution_time_ms = int((locked.completed_at - locked.created_at).total_seconds() * 1000)
    _meter_tokens(locked)
    locked.save()
    Project.objects.filter(pk=project.pk).update(updated_at=locked.completed_at)
    _warn_budgets(user=locked.user or actor, project=project)
    transaction.on_commit(lambda: usage_cache_bump(locked.user_id))
    return locked


# --- Budgets ------------------------------------------------------------------------------------


@transaction.atomic
def budget_set(
    *, actor, metric: str, monthly_limit: int, project: Project | None = None, warn_ratio=Decimal("0.8"), hard_cap=False
) -> Budget:
    """Creates or replaces the monthly budget for a metric, on the actor's account or one of their projects."""
    if project is not None:
        _require(actor, "projects.change_budget", project, "Only the owner sets project budgets.")
    budget = Budget.objects.filter(user=project.user if project else actor, project=project, metric=metric).first()
    if budget is None:
        budget = Budget(user=project.user if project else actor, project=project, metric=metric)
    budget.monthly_limit = monthly_limit
    budget.warn_ratio = Decimal(str(warn_ratio)).quantize(Decimal("0.001"))  # the column keeps 3 decimals
    budget.hard_cap = hard_cap
    budget.warned_period = None  # a new threshold may warn again this month
    budget.full_clean(validate_constraints=False)
    budget.save()
    return budget


@transaction.atomic
def budget_delete(*, actor, budget: Budget) -> None:
    if budget.project_id:
        _require(actor, "projects.change_budget", budget.project, "Only the owner removes project budgets.")
    elif budget.user_id != actor.pk:
        raise NotFound()
    budget.delete()
