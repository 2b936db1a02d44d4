"""Site-wide models: the outbox of emails waiting to be delivered by the worker."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboundEmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


# A row is "pending" while a worker still has to act on it; the sweeper looks only at these.
PENDING_STATUSES = (OutboundEmailStatus.QUEUED, OutboundEmailStatus.SENDING)


class OutboundEmail(models.Model):
    """One fully rendered email, saved in the sender's transaction and delivered by the worker.

    ``next_attempt_at`` is when a queued row is due, or when a sending row's claim expires (its worker
    died mid-send); either way the row is due once it has passed. Bodies are cleared once sent: they may
    hold sign-in or password-reset links, which must not outlive their delivery in the database.
    """

    kind = models.CharField(max_length=100, help_text="The template it was rendered from, for ops.")
    from_email = models.CharField(max_length=500)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.TextField()
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=OutboundEmailStatus.choices, default=OutboundEmailStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The sweeper: pending rows whose time has come (a small partial index; sent rows pile up).
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=PENDING_STATUSES),
                name="agentwise_outbound_due",
            ),
            models.Index(fields=["status", "-created_at"], name="agentwise_outbound_status"),
            models.Index(fields=["-created_at"], name="agentwise_outbound_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {', '.join(self.to)}: {self.status}"
