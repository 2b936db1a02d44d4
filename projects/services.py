"""Writes for projects: projects, collaborators, executions, budgets. Every door calls these.

Each service checks permissions (``projects/permissions.py``) and plan limits (``billing/limits.py``) —
including that a project past its owner's plan limit after a downgrade is read-only (archiving, deleting,
transferring, removing collaborators and reading stay open, as ways back under the limit) —
changes state in one transaction, meters usage with single atomic upserts (``projects/metering.py``),
queues emails in the outbox (sent after commit) and sends realtime events only after commit.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.notifications import notification_send
from agentwise.access import can, require
from agentwise.errors import NotFound, Refusal
from agentwise.integrity import unique_error
from agentwise.mail import email_enqueue, templated_email
from agentwise.ratelimits import rate_limit_hit
from billing import limits
from moderation.audit import audit_record
from moderation.gate import flag_after_save, screen_text

from . import metering
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


def _require(actor, rule: str, project: Project, message: str, *, as_moderator: bool = False) -> None:
    """Forbidden for a member lacking the role; NotFound for anyone who cannot see the project.

    ``as_moderator`` is the admin's door: staff act on any project under ``projects.moderate_project``
    instead of the member rule (the API never passes it, so through the API staff are like anyone).
    """
    if as_moderator:
        require(actor, "projects.moderate_project", project, message="Only staff moderate projects.")
    else:
        require(actor, rule, project, hidden_unless="projects.view_project", message=message)


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
    require(actor, "projects.add_project", message="You cannot create projects.")
    _lock_user(actor)
    limits.require_within(user=actor, limit="max_active_projects", count=_active_project_count(actor) + 1)
    values = _project_values(data)
    screened = _name_screen(actor, values)
    project = Project(user=actor, **values)
    project.full_clean()
    project.save()
    if screened is not None:
        flag_after_save(screened=screened, content_type="project", content_id=project.pk, author=actor)
    metering.usage_increment(user_id=actor.pk, counts={"projects_created": 1})
    transaction.on_commit(lambda: usage_cache_bump(actor.pk))
    return project


@transaction.atomic
def project_update(*, actor, project: Project, data: dict, as_moderator: bool = False) -> Project:
    """Changes fields and moves between active and archived (re-activating counts against the plan).

    A project past its owner's plan limit is read-only, but archiving it stays open: that is one way back
    under the limit. Staff moderating from the admin are not held by the owner's plan.
    """
    _require(actor, "projects.change_project", project, "Viewers cannot change the project.", as_moderator=as_moderator)
    if not as_moderator and data.get("status", project.status) == ProjectStatus.ACTIVE:
        limits.require_project_writable(project, actor=actor)
    values = _project_values(data)
    screened = _name_screen(actor, values) if values.get("name", project.name) != project.name else None
    changed = list(values)
    for field, value in values.items():
        setattr(project, field, value)
    new_status = data.get("status")
    if new_status and new_status != project.status:
        if new_status not in (ProjectStatus.ACTIVE, ProjectStatus.ARCHIVED):
            raise ValidationError({"status": "Use DELETE to delete a project; status can be active or archived."})
        if new_status == ProjectStatus.ACTIVE:
            _lock_user(project.user)
            limits.require_within(
                user=project.user, limit="max_active_projects", count=_active_project_count(project.user) + 1
            )
        project.status = new_status
        changed.append("status")
    project.full_clean()
    project.save(update_fields=[*changed, "updated_at"] if changed else None)
    if screened is not None:
        flag_after_save(screened=screened, content_type="project", content_id=project.pk, author=project.user)
    return project


def _name_screen(actor, values: dict):
    """A project's name is seen by its collaborators: through the content rules (refuse, mask, flag)."""
    if not isinstance(values.get("name"), str):
        return None
    screened = screen_text(actor=actor, text=values["name"], field="name", surface="project")
    values["name"] = screened.text
    return screened


@transaction.atomic
def project_delete(*, actor, project: Project, as_moderator: bool = False) -> Project:
    """Soft delete: hidden everywhere at once, restorable by the owner for 30 days, then purged."""
    _require(actor, "projects.delete_project", project, "Only the owner can delete the project.", as_moderator=as_moderator)
    if project.status == ProjectStatus.DELETED:
        return project
    project.status_before_delete = project.status
    project.status = ProjectStatus.DELETED
    project.deleted_at = timezone.now()
    project.save(update_fields=["status", "status_before_delete", "deleted_at", "updated_at"])
    audit_record("project.delete", actor=actor, resource=project, metadata={
        "name": project.name, "owner_id": project.user_id, "as_moderator": as_moderator,
    })
    return project


@transaction.atomic
def project_restore(*, actor, project: Project, as_moderator: bool = False) -> Project:
    """Undoes a soft delete within 30 days (the owner; staff from the admin). Counts against the plan."""
    if as_moderator:
        _require(actor, "projects.restore_project", project, "", as_moderator=True)
    elif not can(actor, "projects.restore_project", project):
        raise NotFound()
    if project.status != ProjectStatus.DELETED:
        raise NotFound()
    if project.deleted_at is None or project.deleted_at <= timezone.now() - RESTORE_WINDOW:
        raise NotFound()
    restored_status = project.status_before_delete or ProjectStatus.ACTIVE
    if restored_status == ProjectStatus.ACTIVE:
        _lock_user(project.user)
        limits.require_within(user=project.user, limit="max_active_projects", count=_active_project_count(project.user) + 1)
    project.status = restored_status
    project.deleted_at = None
    project.status_before_delete = ""
    project.save(update_fields=["status", "status_before_delete", "deleted_at", "updated_at"])
    audit_record("project.restore", actor=actor, resource=project, metadata={
        "name": project.name, "owner_id": project.user_id, "status": project.status, "as_moderator": as_moderator,
    })
    return project


@transaction.atomic
def project_transfer(*, actor, project: Project, new_owner, as_moderator: bool = False) -> Project:
    """Hands the project to an accepted collaborator; the old owner stays on as an editor."""
    _require(actor, "projects.transfer_project", project, "Only the owner can transfer the project.", as_moderator=as_moderator)
    membership = ProjectCollaborator.objects.filter(
        project=project, user=new_owner, accepted_at__isnull=False
    ).first()
    if membership is None:
        raise ValidationError({"user": "The new owner must be a collaborator who accepted their invitation."})
    if project.status == ProjectStatus.ACTIVE:
        _lock_user(new_owner)
        limits.require_within(user=new_owner, limit="max_active_projects", count=_active_project_count(new_owner) + 1)
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
    # A project's budgets belong to its owner: the former owner no longer sees their figures or gets
    # their warnings, and the new owner is warned afresh this month.
    Budget.objects.filter(project=project).update(user=new_owner, warned_period=None)
    audit_record("project.transfer", actor=actor, resource=project, metadata={
        "old_owner_id": old_owner.pk, "new_owner_id": new_owner.pk, "as_moderator": as_moderator,
    })
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


def collaborator_invite(
    *, actor, project: Project, role: str, invitee=None, email: str = ""
) -> ProjectCollaborator:
    """Invites an existing user by username, or anyone by email.

    An invitation by email answers the same whether or not an account uses the address (so the form
    cannot be used to find out who has an account), never shows the account's username before they
    accept, and — for an address with no account — waits and binds when someone signs up with it and
    confirms it. Inviting an address again is harmless: the answer is the same invitation.
    """
    _require(actor, "projects.manage_collaborators", project, "Only the owner can invite collaborators.")
    limits.require_project_writable(project, actor=actor)
    if role not in (CollaboratorRole.EDITOR, CollaboratorRole.VIEWER):
        raise ValidationError({"role": "Invite as editor or viewer; ownership is transferred, not invited."})
    email = email.strip().lower()
    if (invitee is None) == (not email):
        raise ValidationError({"username": "Give either username or email."})
    rate_limit_hit("projects.invite", actor.pk, message="You are sending invitations too fast; try again later.")
    if invitee is None:
        invitee = _account_for_email(email)
        if invitee is not None and (invitee.pk == project.user_id or not invitee.is_active):
            return ProjectCollaborator(project=project, email=email, role=role, invited_by=actor)  # nothing to do
    elif invitee.pk == project.user_id:
        raise ValidationError({"user": "The owner is already on the project."})
    elif not invitee.is_active:
        raise ValidationError({"user": "This account is disabled."})
    try:
        with transaction.atomic():
            _lock_user(project.user)
            existing = _existing_invitation(project=project, user=invitee, email=email)
            if existing is not None:
                if email:
                    return existing if existing.email == email else ProjectCollaborator(
                        project=project, email=email, role=existing.role, invited_by=actor
                    )
                raise unique_error(ProjectCollaborator, "projects_collaborator_unique")
            limits.require_within(
                user=project.user,
                limit="max_collaborators_per_project",
                count=ProjectCollaborator.objects.filter(project=project).count() + 1,
            )
            collaborator = ProjectCollaborator.objects.create(
                project=project, user=invitee, email=email, role=role, invited_by=actor
            )
            audit_record("collaborator.invite", actor=actor, resource=collaborator, metadata={
                "project_id": project.pk, "invitee_id": invitee.pk if invitee else None,
                "email": email, "role": role,
            })
            invitation_email_enqueue(invitation=collaborator)
    except IntegrityError:
        # A concurrent invitation of the same person won the race: answered as the check would have.
        existing = _existing_invitation(project=project, user=invitee, email=email)
        if existing is None or not email:
            raise
        return existing
    return collaborator


def _account_for_email(email: str):
    """The active account that has confirmed this address, if any (an unconfirmed claim binds nothing)."""
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.filter(email__iexact=email, verified=True).select_related("user").first()
    return address.user if address is not None else None


def _existing_invitation(*, project: Project, user, email: str) -> ProjectCollaborator | None:
    rows = ProjectCollaborator.objects.filter(project=project)
    if user is not None:
        found = rows.filter(user=user).first()
        if found is not None:
            return found
    return rows.filter(email=email).first() if email else None


def invitations_bind(*, user, email: str) -> int:
    """Gives a newly confirmed address's pending invitations to its account (called when an address is
    confirmed). Where the account is already on a project, the duplicate invitation is dropped."""
    email = email.strip().lower()
    bound = 0
    with transaction.atomic():
        for invitation in ProjectCollaborator.objects.select_for_update().filter(email=email, user__isnull=True):
            if invitation.project.user_id == user.pk or ProjectCollaborator.objects.filter(
                project_id=invitation.project_id, user=user
            ).exists():
                invitation.delete()
                continue
            invitation.user = user
            invitation.save(update_fields=["user"])
            bound += 1
    return bound


def invitation_email_enqueue(*, invitation: ProjectCollaborator) -> None:
    """Queues the invitation email in the outbox, in the caller's transaction (sent after commit).

    To an address with no account yet, it invites them to sign up with it: the invitation binds once
    they confirm the address (``invitations_bind``).
    """
    inviter = invitation.invited_by
    accept_path = f"/projects/{invitation.project_id}/invitation/"
    message = templated_email(
        subject=f"{inviter.username if inviter else 'Someone'} invited you to “{invitation.project.name}” on Agentwise",
        template="projects/email/invitation",
        context={
            "invitation": invitation,
            "project": invitation.project,
            "inviter": inviter,
            "accept_url": f"{settings.SITE_URL}{accept_path}",
            "signup_url": f"{settings.SITE_URL}/account/signup/?next={accept_path}" if invitation.user_id is None else "",
        },
        to=[invitation.email or invitation.user.email],
    )
    email_enqueue(message, kind="projects/email/invitation")


@transaction.atomic
def collaborator_update(*, actor, collaborator: ProjectCollaborator, role: str, as_moderator: bool = False) -> ProjectCollaborator:
    _require(actor, "projects.manage_collaborators", collaborator.project, "Only the owner can change roles.",
             as_moderator=as_moderator)
    if not as_moderator:
        limits.require_project_writable(collaborator.project, actor=actor)
    if role not in (CollaboratorRole.EDITOR, CollaboratorRole.VIEWER):
        raise ValidationError({"role": "A collaborator is an editor or a viewer."})
    old_role = collaborator.role
    collaborator.role = role
    collaborator.save(update_fields=["role"])
    audit_record("collaborator.role_change", actor=actor, resource=collaborator, metadata={
        "project_id": collaborator.project_id, "user_id": collaborator.user_id, "old": old_role, "new": role,
        "as_moderator": as_moderator,
    })
    return collaborator


@transaction.atomic
def collaborator_remove(*, actor, collaborator: ProjectCollaborator, as_moderator: bool = False) -> None:
    """The owner removes anyone (or withdraws an invitation); a collaborator may leave.

    Open on a project past its owner's plan limit: removing people is no way around the limit.
    """
    if as_moderator:
        _require(actor, "", collaborator.project, "", as_moderator=True)
    else:
        require(actor, "projects.view_project", collaborator.project, hidden_unless="projects.view_project")
        require(actor, "projects.remove_collaborator", collaborator, message="Only the owner can remove others.")
    audit_record("collaborator.remove", actor=actor, resource=collaborator, metadata={
        "project_id": collaborator.project_id, "user_id": collaborator.user_id, "role": collaborator.role,
        "accepted": collaborator.accepted_at is not None, "as_moderator": as_moderator,
    })
    collaborator.delete()


@transaction.atomic
def invitation_accept(*, actor, invitation: ProjectCollaborator) -> ProjectCollaborator:
    require(actor, "projects.answer_invitation", invitation, hidden_unless="projects.answer_invitation")
    if invitation.accepted_at is None:
        limits.require_project_writable(invitation.project, actor=actor)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        audit_record("collaborator.accept", actor=actor, resource=invitation, metadata={
            "project_id": invitation.project_id, "role": invitation.role,
        })
    return invitation


@transaction.atomic
def invitation_decline(*, actor, invitation: ProjectCollaborator) -> None:
    """Declining removes the invitation, so the owner may invite again later."""
    require(actor, "projects.answer_invitation", invitation, hidden_unless="projects.answer_invitation")
    audit_record("collaborator.decline", actor=actor, resource=invitation, metadata={
        "project_id": invitation.project_id, "role": invitation.role,
    })
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
    limits.require_project_writable(project, actor=actor)
    _enforce_budget_caps(user=actor, project=project)
    # Count first, in the same statement that locks the counter row: concurrent reports serialise here,
    # so the monthly limit is exact, and a refusal rolls the increment back with everything else.
    counters = metering.usage_increment(user_id=actor.pk, counts={"executions": 1})
    limits.require_within(user=actor, limit="executions_per_month", count=counters[("executions", "month")])
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
    """Completes or fails a running execution; the server sets ``completed_at``. Only once (else 409).

    Only the run's reporter (still an editor) or the project's owner may finish it: the tokens are
    metered to the reporter, so another editor must not bill them with theirs.
    """
    project = execution.project
    require(actor, "projects.view_execution", project, hidden_unless="projects.view_execution")
    require(actor, "projects.change_execution", execution,
            message="Only the member who reported this run, or the project's owner, can finish it.")
    # Not held by a downgrade: a run accepted before it finishes and is metered (its tokens were spent).
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


def budget_set(
    *, actor, metric: str, monthly_limit: int, project: Project | None = None, warn_ratio=Decimal("0.8"), hard_cap=False
) -> Budget:
    """Creates or replaces the monthly budget for a metric, on the actor's account or one of their projects.

    The scope's owner row is locked first, so two concurrent requests replace one budget in turn
    instead of racing to insert two.
    """
    if project is not None:
        _require(actor, "projects.change_budget", project, "Only the owner sets project budgets.")
        limits.require_project_writable(project, actor=actor)
    owner = project.user if project is not None else actor
    with transaction.atomic():
        _lock_user(owner)
        budget = Budget.objects.filter(project=project, metric=metric, **({} if project else {"user": owner})).first()
        if budget is None:
            budget = Budget(user=owner, project=project, metric=metric)
        budget.user = owner
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
        limits.require_project_writable(budget.project, actor=actor)
    elif budget.user_id != actor.pk:
        raise NotFound()
    budget.delete()


# --- Account deletion -------------------------------------------------------------------------------


def projects_forget_user(*, user, emails=()) -> dict:
    """What a deleted account leaves in projects, in the caller's transaction (``accounts.deletion``).

    The projects it still owns are deleted for good (transfer them first to keep them), and their accepted
    collaborators are told — without naming the owner. Invitations to the user (by account, or to its
    addresses: the account's and ``emails``, those it proved its own) and pending ones it sent are
    withdrawn; its memberships end. Returns what was removed.
    """
    from accounts.notifications import notification_send

    owned = list(Project.objects.select_for_update().filter(user=user))
    affected = set(ProjectCollaborator.objects.filter(project__in=owned, user__isnull=False).exclude(user=user)
                   .values_list("user_id", flat=True))
    told = 0
    for project in owned:
        if project.status == ProjectStatus.DELETED:
            continue  # already gone for everyone else
        members = ProjectCollaborator.objects.filter(project=project, accepted_at__isnull=False).exclude(user=user)
        for member in members.select_related("user"):
            if member.user_id is None:
                continue
            notification_send(
                user=member.user,
                kind="project_deleted",
                title=f"“{project.name}” was deleted",
                body="Its owner deleted their account, and the project with it: its executions, budgets and "
                "collaborators are gone.",
                data={"project_name": project.name},
                email=True,
            )
            told += 1
    addresses = {str(e).strip().lower() for e in (user.email, *emails) if e}
    invitations = (
        ProjectCollaborator.objects.filter(user=user)
        | ProjectCollaborator.objects.filter(invited_by=user, accepted_at__isnull=True)
        | ProjectCollaborator.objects.filter(email__in=addresses)
    )
    memberships = invitations.exclude(project__in=owned).count()
    invitations.delete()
    Project.objects.filter(pk__in=[p.pk for p in owned]).delete()

    def bump():  # their dashboards counted the deleted projects
        for user_id in affected:
            usage_cache_bump(user_id)

    transaction.on_commit(bump)
    return {"projects_deleted": len(owned), "collaborators_told": told, "memberships_removed": memberships}
