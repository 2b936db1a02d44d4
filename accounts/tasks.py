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


@shared_task
def data_export_build_task(export_id: str) -> str | None:
    """Builds one data export (accounts.services.data_export_build); safe to run twice."""
    from .services import data_export_build

    export = data_export_build(export_id=export_id)
    return export.status if export is not None else None


@shared_task
def data_exports_tidy_task() -> dict:
    """Beat, hourly: removes expired export files and re-schedules lost or stalled builds."""
    from .services import data_exports_tidy

    return data_exports_tidy()
