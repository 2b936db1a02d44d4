"""Our emails: rendering a template pair, and the outbox every email goes through.

A request never sends mail itself. It saves a fully rendered message as an ``OutboundEmail`` row in
its own transaction (``email_enqueue``); after commit the worker claims the row, sends it through
``EMAIL_BACKEND`` and retries with back-off while the provider is down (``email_send``). The row, not
the broker, holds the retry state, so a lost task or a killed worker delays an email but never loses
it: the periodic sweeper (``email_requeue_stale``) hands due rows to the worker again.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from .models import PENDING_STATUSES, OutboundEmail, OutboundEmailStatus

logger = logging.getLogger(__name__)

# How long a worker owns a claimed row. Far above EMAIL_TIMEOUT (and anymail's HTTP timeout), so only a
# worker that died mid-send loses its claim; the row is then sent again by whoever claims it next.
CLAIM_SECONDS = 10 * 60
# The sweeper leaves rows alone this long after they are due: their own task is normally on its way.
STALE_AFTER_SECONDS = 60
# A retry further away than this waits for the sweeper instead of a Celery ETA: Redis redelivers
# unacknowledged ETA tasks after the broker's visibility timeout (1 h), and workers hold them in memory.
ETA_LIMIT_SECONDS = 10 * 60
LAST_ERROR_MAX_CHARS = 2000


class SendOutcome:
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    NOT_CLAIMED = "not_claimed"  # already sent, claimed by another worker, or not due yet


def templated_email(*, subject: str, template: str, context: dict, to: list[str]) -> EmailMultiAlternatives:
    """``template`` names the pair without extension: ``<template>.txt`` and ``<template>.html``."""
    message = EmailMultiAlternatives(subject=subject, body=render_to_string(f"{template}.txt", context), to=to)
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


def email_enqueue(message: EmailMessage, *, kind: str) -> OutboundEmail:
    """Saves ``message`` in the caller's transaction; the worker sends it once that commits.

    Nothing is sent if the transaction rolls back. Raises ValueError for what the outbox cannot carry
    (attachments, alternatives other than one HTML part): a programming error, not a delivery problem.
    """
    if message.attachments:
        raise ValueError("The outbox does not carry attachments.")
    alternatives = [(content, mimetype) for content, mimetype in getattr(message, "alternatives", [])]
    if any(mimetype != "text/html" for _, mimetype in alternatives) or len(alternatives) > 1:
        raise ValueError("The outbox carries a text body and at most one text/html alternative.")
    if message.content_subtype == "html":
        if alternatives:
            raise ValueError("An HTML message cannot have another HTML alternative.")
        text_body, html_body = "", message.body
    else:
        text_body, html_body = message.body, (alternatives[0][0] if alternatives else "")
    outbound = OutboundEmail.objects.create(
        kind=kind[:100],
        from_email=message.from_email,
        to=list(message.to),
        cc=list(message.cc),
        bcc=list(message.bcc),
        reply_to=list(message.reply_to),
        # One line: a subject built from a member's text (a topic title, a campaign subject) may hold line
        # breaks, which Django refuses in a header, so such an email would fail on every attempt.
        subject=" ".join(str(message.subject).split()),
        text_body=text_body,
        html_body=html_body,
        headers={str(name): str(value) for name, value in message.extra_headers.items()},
    )
    transaction.on_commit(lambda: _schedule(outbound.pk))
    return outbound


def email_send(*, outbound_id: int, now: datetime | None = None) -> str:
    """Claims the row, sends it and records the outcome; safe to run twice or in two workers at once.

    A failure is recorded on the row and retried with exponential back-off until EMAIL_MAX_ATTEMPTS,
    after which the row is ``failed`` (visible in the admin; "retry now" there sends it again).
    """
    outbound = email_claim(outbound_id=outbound_id, now=now)
    if outbound is None:
        return SendOutcome.NOT_CLAIMED
    attempt = outbound.attempts
    try:
        message = _message_from(outbound)
        message.send()
    except Exception as error:  # noqa: BLE001 (any backend error: SMTP, network, an ESP's API)
        return _record_failure(outbound, attempt=attempt, error=error)
    recorded = OutboundEmail.objects.filter(
        pk=outbound.pk, status=OutboundEmailStatus.SENDING, attempts=attempt
    ).update(
        status=OutboundEmailStatus.SENT,
        sent_at=timezone.now(),
        next_attempt_at=None,
        provider_message_id=provider_message_id(message),
        text_body="",
        html_body="",
    )
    if not recorded:  # our claim expired and another worker took the row over meanwhile
        logger.warning("Email %s was sent after its claim expired; it may be delivered twice.", outbound.pk)
    return SendOutcome.SENT


def email_claim(*, outbound_id: int, now: datetime | None = None) -> OutboundEmail | None:
    """Takes a due row for one worker with a single conditional UPDATE: concurrent claims get one winner.

    Due means queued and its time has come, or sending with an expired claim (a dead worker).
    ``attempts`` is incremented by the claim and identifies it when the outcome is recorded.
    """
    now = now or timezone.now()
    claimed = OutboundEmail.objects.filter(
        pk=outbound_id, status__in=PENDING_STATUSES, next_attempt_at__lte=now
    ).update(
        status=OutboundEmailStatus.SENDING,
        attempts=F("attempts") + 1,
        next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS),
    )
    return OutboundEmail.objects.get(pk=outbound_id) if claimed else None


def email_requeue_stale(*, now: datetime | None = None, limit: int = 500) -> int:
    """Hands the worker every pending row that is overdue: its task was lost (broker down at enqueue,
    a retry too far off for an ETA) or its worker died mid-send. Safe to run twice: the claim sends once.
    """
    now = now or timezone.now()
    due = OutboundEmail.objects.filter(
        status__in=PENDING_STATUSES, next_attempt_at__lte=now - timedelta(seconds=STALE_AFTER_SECONDS)
    ).order_by("next_attempt_at")
    ids = list(due.values_list("pk", flat=True)[:limit])
    for outbound_id in ids:
        _schedule(outbound_id)
    return len(ids)


@transaction.atomic
def email_retry(*, outbound_ids: list[int], now: datetime | None = None) -> int:
    """Sends failed or waiting emails now (the admin's "retry now"); a failed one gets its attempts back."""
    now = now or timezone.now()
    rows = OutboundEmail.objects.filter(pk__in=outbound_ids)
    ids = list(
        rows.filter(status__in=[OutboundEmailStatus.FAILED, OutboundEmailStatus.QUEUED]).values_list("pk", flat=True)
    )
    rows.filter(status=OutboundEmailStatus.FAILED).update(
        status=OutboundEmailStatus.QUEUED, attempts=0, next_attempt_at=now
    )
    rows.filter(status=OutboundEmailStatus.QUEUED).update(next_attempt_at=now)
    for outbound_id in ids:
        transaction.on_commit(lambda outbound_id=outbound_id: _schedule(outbound_id))
    return len(ids)


def retry_delay_seconds(attempt: int) -> float:
    """Exponential back-off from EMAIL_RETRY_SECONDS, capped, with jitter so a recovered provider is
    not hit by every waiting email in the same second: between half and all of the doubled delay."""
    ceiling = min(settings.EMAIL_RETRY_MAX_SECONDS, settings.EMAIL_RETRY_SECONDS * 2 ** (max(attempt, 1) - 1))
    return ceiling * random.uniform(0.5, 1.0)


def _record_failure(outbound: OutboundEmail, *, attempt: int, error: Exception) -> str:
    error_text = f"{type(error).__name__}: {error}"[:LAST_ERROR_MAX_CHARS]
    mine = OutboundEmail.objects.filter(pk=outbound.pk, status=OutboundEmailStatus.SENDING, attempts=attempt)
    if attempt >= settings.EMAIL_MAX_ATTEMPTS:
        mine.update(status=OutboundEmailStatus.FAILED, next_attempt_at=None, last_error=error_text)
        logger.error("Email %s (%s) failed for good after %d attempts: %s", outbound.pk, outbound.kind, attempt, error_text)
        return SendOutcome.FAILED
    retry_at = timezone.now() + timedelta(seconds=retry_delay_seconds(attempt))
    mine.update(status=OutboundEmailStatus.QUEUED, next_attempt_at=retry_at, last_error=error_text)
    logger.warning(
        "Email %s (%s) attempt %d failed: %s; retrying at %s", outbound.pk, outbound.kind, attempt, error_text, retry_at
    )
    if retry_at - timezone.now() <= timedelta(seconds=ETA_LIMIT_SECONDS):
        _schedule(outbound.pk, eta=retry_at)
    return SendOutcome.RETRY


def _message_from(outbound: OutboundEmail) -> EmailMessage:
    common = {
        "subject": outbound.subject,
        "from_email": outbound.from_email,
        "to": outbound.to,
        "cc": outbound.cc,
        "bcc": outbound.bcc,
        "reply_to": outbound.reply_to,
        "headers": outbound.headers,
    }
    if outbound.html_body and not outbound.text_body:
        message = EmailMessage(body=outbound.html_body, **common)
        message.content_subtype = "html"
        return message
    message = EmailMultiAlternatives(body=outbound.text_body, **common)
    if outbound.html_body:
        message.attach_alternative(outbound.html_body, "text/html")
    return message


def provider_message_id(message: EmailMessage) -> str:
    """The ESP's id from anymail (one per recipient when they differ); SMTP gives none."""
    status = getattr(message, "anymail_status", None)
    message_id = getattr(status, "message_id", None)
    if message_id is None:
        return ""
    if isinstance(message_id, set):
        message_id = ",".join(sorted(str(one) for one in message_id))
    return str(message_id)[:255]


def _schedule(outbound_id: int, *, eta: datetime | None = None) -> None:
    """Asks the worker to send a row. An unreachable broker is logged, never raised: the row is saved,
    and the sweeper hands it to the worker once the broker is back."""
    from .tasks import send_email_task

    try:
        send_email_task.apply_async(args=[outbound_id], eta=eta)
    except Exception:  # noqa: BLE001 (kombu/redis connection errors, whatever the transport raises)
        logger.exception("Could not hand email %s to the worker; the sweeper will pick it up.", outbound_id)
