"""Celery tasks for accounts."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from agentwise.mail import templated_email

from .models import Notification


@shared_task(bind=True, max_retries=5)
def send_notification_email_task(self, notification_id: str) -> bool:
    """Emails a notification once; safe to run twice (``emailed_at`` is claimed atomically)."""
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return False
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    context = {"notification": notification, "user": notification.user, "site_url": settings.SITE_URL}
    message = templated_email(
        subject=notification.title, template="accounts/email/notification", context=context, to=[notification.user.email]
    )
    try:
        message.send()
    except Exception as error:
        Notification.objects.filter(pk=notification_id).update(emailed_at=None)  # let the retry claim it again
        raise self.retry(exc=error, countdown=settings.EMAIL_RETRY_SECONDS) from error
    return True
