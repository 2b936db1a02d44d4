"""Celery tasks for the community: each calls one service and is safe to run twice."""

from celery import shared_task

from . import services


@shared_task
def attachments_sweep_task() -> int:
    """Removes the files of deleted messages and uploads never attached within a day."""
    return services.attachments_sweep()
