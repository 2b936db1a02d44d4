"""Celery tasks for the outbox: each takes an id (or nothing), calls one service in ``agentwise.mail``.

Their retry policy lives on the ``OutboundEmail`` row, not in Celery's ``self.retry``: a retry held
only by the broker is lost with the message, while the row survives and the sweeper finds it.
"""

from celery import shared_task

from . import mail


@shared_task(ignore_result=True)
def send_email_task(outbound_id: int) -> str:
    """Sends one outbox row; a duplicate or late delivery of this task sends nothing more."""
    return mail.email_send(outbound_id=outbound_id)


@shared_task(ignore_result=True)
def requeue_stale_emails_task() -> int:
    """Every minute (beat): hands the worker rows whose task was lost or whose worker died mid-send."""
    return mail.email_requeue_stale()
