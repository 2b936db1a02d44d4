"""Celery tasks for accounts."""

from celery import shared_task

from .models import Notification
from .notifications import notification_email_enqueue


@shared_task
def send_notification_email_task(notification_id: str) -> bool:
    """Kept for tasks queued before the email outbox existed (notification_send now queues the email
    itself); safe to run twice. Remove once no such task can be left in the broker."""
    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if notification is None:
        return False
    return notification_email_enqueue(notification=notification)
