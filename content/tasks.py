"""Scheduled publishing, and the newsletter's senders."""

from celery import shared_task
from django.db import DatabaseError

from . import services


@shared_task(ignore_result=True)
def publish_due_task() -> int:
    """Every minute (beat): scheduled posts and draft revisions go live on time."""
    return services.publish_due()


@shared_task(
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=8,
)
def newsletter_batch_task(campaign_id: int, throttle_round: int = 0) -> int:
    """Sends one batch of a campaign. Acknowledged when done (a worker lost mid-batch hands it back),
    and safe to run twice: rows are claimed, so a second run finds only what is left. A lost database
    connection retries the batch with back-off; its claimed rows wait for their lease to expire."""
    from .newsletter import sending

    return sending.campaign_batch_send(campaign_id=campaign_id, throttle_round=throttle_round).sent


@shared_task(ignore_result=True)
def newsletter_tick_task() -> dict:
    """Every minute (beat): scheduled campaigns start on time; stalled ones are picked up again."""
    from .newsletter import sending

    return sending.newsletter_tick()
