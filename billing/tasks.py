from celery import shared_task

from . import services


@shared_task
def grace_periods_expire_task() -> int:
    """Hourly: past-due accounts past their grace period fall back to Free (audited)."""
    return services.grace_periods_expire()
