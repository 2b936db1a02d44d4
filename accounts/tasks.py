"""Celery tasks for accounts."""

from celery import shared_task

from .models import Notification
from .notifications import notification_digests_send, notification_email_enqueue


@shared_task
def send_notification_email_task(notification_id: str) -> bool:
    """Kept for tasks queued before the email outbox existed (notification_send now queues the email
    itself); safe to run twice. Remove once no such task can be left in the broker."""
    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if notification is None:
        return False
    return notification_email_enqueue(notification=notification)


@shared_task
def notification_digest_task() -> int:
    """Beat, hourly: sends the day's notification digests. Safe to run twice or on two workers at once
    (each user's day is claimed by a unique row); returns how many digests went out."""
    return notification_digests_send()
