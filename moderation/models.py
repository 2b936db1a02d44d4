"""Moderation: the audit log, content rules (profanity patterns), the report queue, decisions, sanctions,
and bot detection. Tables keep the design's names (``audit_logs``, ``profanity_patterns``,
``moderation_queue``, ``bot_detection``); the others are ours.

Writes go through ``moderation.services`` (and ``moderation.audit`` for the log); nothing here changes
state by itself.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

# --- Audit log ---------------------------------------------------------------------------------------


class AuditLog(models.Model):
    """One row per security- or moderation-relevant event. Append-only: written by ``moderation.audit``
    in the same transaction as the action, never edited (the admin refuses change and delete)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_column="user_id",
        help_text="Who did it; empty for the system or an anonymous caller (a failed sign-in).",
    )
    action = models.CharField(max_length=255, db_index=True, help_text="A dotted name, e.g. auth.login, api_key.revoke.")
    resource_type = models.CharField(max_length=100, blank=True)
    resource_id = models.CharField(max_length=64, blank=True, help_text="The resource's primary key, as text.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "audit_logs"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["actor", "created_at"], name="audit_actor_created"),
            models.Index(fields=["resource_type", "resource_id"], name="audit_resource"),
            models.Index(fields=["action", "created_at"], name="audit_action_created"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_type}:{self.resource_id}"


# --- Content rules -------------------------------------------------------------------------------------


class PatternKind(models.TextChoices):
    WORD = "word", "Word (whole words, look-alike letters and spacing tricks matched)"
    REGEX = "regex", "Regular expression"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class RuleAction(models.TextChoices):
    """What a match does. The design's warn, block and shadowban, plus Discourse's censor and
    require-approval."""

    WARN = "warn", "Warn (accept, flag into the queue)"
    CENSOR = "censor", "Censor (mask the words on display)"
    REQUIRE_APPROVAL = "require_approval", "Require approval (held until staff approve)"
    SHADOWBAN = "shadowban", "Shadowban (only the author sees it)"
    BLOCK = "block", "Block (refuse it)"


class ProfanityPattern(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pattern = models.TextField()
    kind = models.CharField(max_length=10, choices=PatternKind.choices, default=PatternKind.WORD)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    action = models.CharField(max_length=20, choices=RuleAction.choices, default=RuleAction.WARN)
    category = models.CharField(
        max_length=50, default="inappropriate language", help_text="Named to the author when a rule refuses text; the pattern never is."
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "profanity_patterns"
        ordering = ["category", "pattern"]
        constraints = [models.UniqueConstraint(fields=["pattern", "kind"], name="profanity_pattern_kind_unique")]

    def __str__(self) -> str:
        return f"{self.pattern} ({self.get_action_display()})"


# --- Report queue, decisions, sanctions ---------------------------------------------------------------


class ReportedType(models.TextChoices):
    MESSAGE = "message", "Chat message"
    FORUM_POST = "forum_post", "Forum topic"
    FORUM_REPLY = "forum_reply", "Forum reply"
    PROFILE = "profile", "Profile"
    PROJECT = "project", "Project name"  # flagged by a content rule only: projects are not reported


# What members may report (a project's name is only ever flagged by a rule).
REPORTABLE_TYPES = [ReportedType.MESSAGE, ReportedType.FORUM_POST, ReportedType.FORUM_REPLY, ReportedType.PROFILE]
REPORTABLE_CHOICES = [(kind.value, kind.label) for kind in REPORTABLE_TYPES]


class ItemSource(models.TextChoices):
    REPORT = "report", "Reported by a member"
    RULE = "rule", "Flagged by a content rule"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved (dismissed)"
    REMOVED = "removed", "Removed"


class ModerationItem(models.Model):
    """A report (or a rule's flag) on one piece of content, in the design's ``moderation_queue``. Reports on
    the same item are grouped by ``(content_type, content_id)``; a reporter has at most one open report
    per item."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    content_type = models.CharField(max_length=20, choices=ReportedType.choices)
    content_id = models.CharField(max_length=64, help_text="The reported object's primary key (a profile: its user's id).")
    content_author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content_excerpt = models.TextField(blank=True, help_text="The text as it was when reported or flagged.")
    source = models.CharField(max_length=10, choices=ItemSource.choices, default=ItemSource.REPORT)
    rule = models.ForeignKey(ProfanityPattern, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING, db_index=True)
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    moderation_notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "moderation_queue"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["content_type", "content_id", "status"], name="modqueue_item_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "content_id", "reported_by"],
                condition=models.Q(status="pending", reported_by__isnull=False),
                name="modqueue_one_open_report_per_reporter",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_content_type_display()} {self.content_id} ({self.status})"


class DecisionKind(models.TextChoices):
    APPROVE = "approve", "Approved (dismissed reports)"
    REMOVE = "remove", "Removed content"
    RESTORE = "restore", "Restored content"
    SANCTION = "sanction", "Sanctioned a user"
    LIFT = "lift", "Lifted a sanction"
    PURGE = "purge", "Removed a user's recent content"
    BLOCK = "block", "Refused by a rule"  # automatic: a rule acted, no moderator
    HIDE = "hide", "Hidden by reports"  # automatic: N distinct reporters


class ModerationDecision(models.Model):
    """Every moderation outcome, manual or automatic, with its reason: the transparency report counts these."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=DecisionKind.choices, db_index=True)
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    content_type = models.CharField(max_length=20, choices=ReportedType.choices, blank=True)
    content_id = models.CharField(max_length=64, blank=True)
    rule = models.ForeignKey(ProfanityPattern, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(blank=True)
    report_count = models.PositiveIntegerField(default=0, help_text="Reports this decision resolved.")
    first_reported_at = models.DateTimeField(null=True, blank=True, help_text="For time-to-resolve.")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "moderation_decisions"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.content_type} {self.content_id}".strip()


class SanctionKind(models.TextChoices):
    SILENCE = "silence", "Silence (can read, cannot post)"
    SUSPEND = "suspend", "Suspend (cannot sign in)"
    POST_LIMIT = "post_limit", "Posting limit"


class Sanction(models.Model):
    """A timed (or, without ``expires_at``, open-ended) restriction on a user, with the reason they are shown."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sanctions")
    kind = models.CharField(max_length=20, choices=SanctionKind.choices)
    reason = models.TextField(help_text="Shown to the user.")
    posts_per_hour = models.PositiveIntegerField(null=True, blank=True, help_text="Posting limit only.")
    starts_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until lifted.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        db_table = "moderation_sanctions"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "kind", "expires_at"], name="sanction_user_kind_expiry")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.user_id}"

    def is_active_at(self, moment) -> bool:
        return self.lifted_at is None and self.starts_at <= moment and (self.expires_at is None or self.expires_at > moment)


# --- Bot detection -------------------------------------------------------------------------------------


class BotDetection(models.Model):
    """A client the bot-detection middleware scored above its threshold, and (while ``blocked_until`` is
    ahead) blocked with 429."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ip_address = models.GenericIPAddressField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user_agent = models.TextField(blank=True)
    request_pattern = models.JSONField(default=dict, blank=True, help_text="The window's signals and their scores.")
    confidence_score = models.FloatField()
    is_blocked = models.BooleanField(default=False)
    blocked_until = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "bot_detection"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["ip_address", "blocked_until"], name="bot_ip_blocked_until")]

    def __str__(self) -> str:
        return f"{self.ip_address} ({self.confidence_score:.2f})"


class AllowListEntry(models.Model):
    """An address range (CIDR) or a user bot detection never blocks: monitors, office NATs, partners."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    network = models.CharField(max_length=64, blank=True, help_text="An address or CIDR range, e.g. 10.0.0.0/8.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "moderation_allow_list"
        verbose_name = "allow-list entry"
        verbose_name_plural = "allow list"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(network="") | models.Q(user__isnull=False), name="allow_list_network_or_user"
            )
        ]

    def __str__(self) -> str:
        return self.network or f"user {self.user_id}"
