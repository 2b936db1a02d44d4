"""Celery tasks for projects: each loads by id, calls one service, and is safe to run twice."""

from celery import shared_task

from . import services
from .models import ProjectCollaborator


@shared_task
def send_invitation_email_task(collaborator_id: str) -> bool:
    """Kept for tasks queued before the email outbox existed (collaborator_invite now queues the email
    itself). Remove once no such task can be left in the broker."""
    invitation = (
        ProjectCollaborator.objects.select_related("project", "user", "invited_by")
        .filter(pk=collaborator_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None:  # accepted, declined or removed meanwhile: nothing to send
        return False
    services.invitation_email_enqueue(invitation=invitation)
    return True


@shared_task
def purge_deleted_projects_task() -> int:
    return services.project_purge_expired()
