"""Celery tasks for projects: each loads by id, calls one service, and is safe to run twice."""

from celery import shared_task
from django.conf import settings

from agentwise.mail import templated_email

from . import services
from .models import ProjectCollaborator


@shared_task(bind=True, max_retries=5)
def send_invitation_email_task(self, collaborator_id: str) -> bool:
    invitation = (
        ProjectCollaborator.objects.select_related("project", "user", "invited_by")
        .filter(pk=collaborator_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None:  # accepted, declined or removed meanwhile: nothing to send
        return False
    accept_path = f"/projects/{invitation.project_id}/invitation/"
    context = {
        "invitation": invitation,
        "project": invitation.project,
        "inviter": invitation.invited_by,
        "accept_url": f"{settings.SITE_URL}{accept_path}",
        # An address with no account yet: sign up with it; the invitation binds once it is confirmed.
        "signup_url": f"{settings.SITE_URL}/account/signup/?next={accept_path}" if invitation.user_id is None else "",
    }
    message = templated_email(
        subject=f"{invitation.invited_by.username if invitation.invited_by else 'Someone'} invited you to "
        f"“{invitation.project.name}” on Agentwise",
        template="projects/email/invitation",
        context=context,
        to=[invitation.email or invitation.user.email],
    )
    try:
        message.send()
    except Exception as error:
        raise self.retry(exc=error, countdown=settings.EMAIL_RETRY_SECONDS) from error
    return True


@shared_task
def purge_deleted_projects_task() -> int:
    return services.project_purge_expired()
