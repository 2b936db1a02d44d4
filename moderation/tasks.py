"""Celery tasks for moderation."""

from celery import shared_task


@shared_task
def sanctions_tidy_task() -> int:
    """Drops the cached standing of users whose sanction just expired (idempotent)."""
    from .sanctions import sanctions_tidy

    return sanctions_tidy()
