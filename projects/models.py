"""Projects, collaborators, agent executions, usage metering, model prices, and budgets (plans are billing's)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

TECH_MAX_ITEMS = 30
TECH_MAX_LENGTH = 40


def validate_tech_stack(value) -> None:
    """A short list of short, distinct strings (a JSON list, so it is portable to SQLite)."""
    if not isinstance(value, list):
        raise ValidationError("Must be a list of strings.")
    if len(value) > TECH_MAX_ITEMS:
        raise ValidationError(f"At most {TECH_MAX_ITEMS} entries.")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError("Each entry must be a non-empty string.")
        if len(item) > TECH_MAX_LENGTH:
            raise ValidationError(f"Each entry must be at most {TECH_MAX_LENGTH} characters.")
    if len({item.strip().lower() for item in value}) != len(value):
        raise ValidationError("Entries must be distinct.")


class ProjectStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"
    DELETED = "deleted", "Deleted"


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects", help_text="The owner."
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, max_length=10_000)
    type = models.CharField(max_length=100, blank=True, help_text="e.g. web, cli, library, data")
    status = models.CharField(max_length=50, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE)
    tech_stack = models.JSONField(default=list, blank=True, validators=[validate_tech_stack])
    github_repo = models.URLField(max_length=500, blank=True)
    thumbnail_url = models.URLField(max_length=500, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    stats = models.JSONField(default=dict, blank=True, help_text="lines_of_code, file_count, …")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_accessed_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Soft-deleted at; purged 30 days later.")
    status_before_delete = models.CharField(max_length=50, blank=True, editable=False)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["user", "status", "-updated_at"], name="projects_owner_status_updated"),
            models.Index(fields=["-updated_at"], name="projects_updated"),
            models.Index(fields=["status", "deleted_at"], name="projects_status_deleted"),
            models.Index(fields=["type"], name="projects_type"),
            models.Index(fields=["name"], name="projects_name"),
            # An owner's active projects in the order their plan covers them (billing.limits).
            models.Index(
                fields=["user", "created_at", "id"],
                name="projects_owner_active_place",
                condition=models.Q(status="active"),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CollaboratorRole(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


class ProjectCollaborator(models.Model):
    """An invitation and, once ``accepted_at`` is set, a membership.

    Invited by username, ``user`` is set. Invited by email, ``email`` is set too — and ``user`` only
    once an account with that confirmed address exists: an invitation to an address with no account
    waits and binds when someone signs up with it and confirms it. Until acceptance, an email
    invitation is shown by its address, never by the account behind it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="collaborators")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="collaborations"
    )
    email = models.EmailField(blank=True, help_text="The address invited, when invited by email (lower-cased).")
    role = models.CharField(max_length=50, choices=CollaboratorRole.choices, default=CollaboratorRole.VIEWER)
    permissions = models.JSONField(default=dict, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user"], name="projects_collaborator_unique",
                violation_error_message="This person is already invited to this project.",
            ),
            models.UniqueConstraint(
                fields=["project", "email"], condition=~models.Q(email=""), name="projects_collaborator_email_unique",
                violation_error_message="This address is already invited to this project.",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | ~models.Q(email=""), name="projects_collaborator_user_or_email"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "accepted_at"], name="projects_collab_user_accepted"),
            models.Index(fields=["email"], name="projects_collab_email", condition=models.Q(user__isnull=True)),
        ]
        ordering = ["invited_at"]

    def __str__(self) -> str:
        return f"{self.user or self.email} on {self.project} ({self.role})"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None

    @property
    def shown_as(self) -> str:
        """How the inviter sees this row: the address they typed until the invitee accepts."""
        if self.email and self.accepted_at is None:
            return self.email
        return f"@{self.user.username}" if self.user_id else self.email


class ExecutionStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class AgentExecution(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="executions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    agent_type = models.CharField(max_length=100)
    command = models.CharField(max_length=255, blank=True)
    model = models.CharField(max_length=100, blank=True, help_text="The LLM used; priced by the model price table.")
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cached_input_tokens = models.PositiveIntegerField(default=0, help_text="Part of input_tokens read from cache.")
    tokens_saved = models.PositiveIntegerField(default=0)
    execution_time_ms = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=50, choices=ExecutionStatus.choices, default=ExecutionStatus.RUNNING)
    error_message = models.TextField(blank=True, max_length=10_000)
    metadata = models.JSONField(default=dict, blank=True)
    cost_micros = models.BigIntegerField(default=0, help_text="Cost in millionths of a US dollar.")
    # NULL, not "": the unique constraint must ignore executions reported without a key.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="projects_execution_idempotency",
                violation_error_message="This Idempotency-Key was already used for another execution.",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="projects_exec_project_created"),
            models.Index(fields=["project", "agent_type", "-created_at"], name="projects_exec_project_agent"),
            models.Index(fields=["project", "status", "-created_at"], name="projects_exec_project_status"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_type} on {self.project_id} ({self.status})"

    @property
    def tokens_used(self) -> int:
        return self.input_tokens + self.output_tokens


class UsageMetricType(models.TextChoices):
    API_CALLS = "api_calls", "API calls"
    EXECUTIONS = "executions", "Executions"
    TOKENS_USED = "tokens_used", "Tokens used (in + out)"
    TOKENS_SAVED = "tokens_saved", "Tokens saved"
    PROJECTS_CREATED = "projects_created", "Projects created"
    COST = "cost", "Cost (micro-USD)"


class UsageMetric(models.Model):
    """A counter per user, metric and period (a day, or a calendar month), only ever incremented in SQL."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_metrics")
    metric_type = models.CharField(max_length=100, choices=UsageMetricType.choices)
    value = models.BigIntegerField(default=0)
    period_start = models.DateField()
    period_end = models.DateField()
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "usage_metrics"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "metric_type", "period_start", "period_end"], name="usage_metrics_unique_period"
            ),
        ]
        ordering = ["-period_start", "metric_type"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.metric_type} {self.period_start}..{self.period_end} = {self.value}"


class ProjectUsage(models.Model):
    """Per-project monthly counters, for project budgets; incremented in SQL like UsageMetric."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="usage")
    period_start = models.DateField()
    executions = models.BigIntegerField(default=0)
    tokens_used = models.BigIntegerField(default=0)
    tokens_saved = models.BigIntegerField(default=0)
    cost_micros = models.BigIntegerField(default=0)

    class Meta:
        db_table = "project_usage"
        constraints = [models.UniqueConstraint(fields=["project", "period_start"], name="project_usage_unique_period")]

    def __str__(self) -> str:
        return f"{self.project_id} {self.period_start:%Y-%m}"


class ModelPrice(models.Model):
    """Prices per million tokens for one model, in US dollars; staff edit them in the admin."""

    model = models.CharField(max_length=100, unique=True)
    input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    cached_input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]

    def __str__(self) -> str:
        return self.model


class BudgetMetric(models.TextChoices):
    TOKENS = "tokens", "Tokens used"
    COST = "cost", "Cost (USD)"


class Budget(models.Model):
    """A monthly budget for a user (project empty) or one project, with a warning threshold and an optional cap."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budgets")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets")
    metric = models.CharField(max_length=20, choices=BudgetMetric.choices)
    monthly_limit = models.BigIntegerField(help_text="Tokens, or micro-USD for a cost budget.")
    warn_ratio = models.DecimalField(max_digits=4, decimal_places=3, default="0.800")
    hard_cap = models.BooleanField(default=False, help_text="Refuse new executions once the limit is reached.")
    warned_period = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One budget per metric per scope; two conditional constraints work on SQLite and PostgreSQL.
            models.UniqueConstraint(
                fields=["user", "metric"], condition=models.Q(project__isnull=True), name="projects_budget_account_unique",
                violation_error_message="Your account already has a budget for this metric.",
            ),
            models.UniqueConstraint(
                fields=["project", "metric"], condition=models.Q(project__isnull=False), name="projects_budget_project_unique",
                violation_error_message="This project already has a budget for this metric.",
            ),
            models.CheckConstraint(condition=models.Q(monthly_limit__gt=0), name="projects_budget_limit_positive"),
            models.CheckConstraint(
                condition=models.Q(warn_ratio__gt=0, warn_ratio__lte=1), name="projects_budget_warn_ratio_range"
            ),
        ]

    def __str__(self) -> str:
        scope = f"project {self.project_id}" if self.project_id else f"user {self.user_id}"
        return f"{self.metric} budget for {scope}"
