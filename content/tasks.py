"""Scheduled publishing."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def publish_due_task() -> int:
    """Every minute (beat): scheduled posts and draft revisions go live on time."""
    return services.publish_due()
