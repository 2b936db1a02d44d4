"""Sending a campaign: exactly one message per recipient, whatever crashes, retries or double presses.

How (docs/newsletter.md has the long version):

1. ``campaign_start`` moves a draft (or a due scheduled campaign) to ``sending`` with one conditional
   UPDATE, so a second press or a second ``send_newsletter`` finds nothing to start, and writes one
   ``Delivery`` row per recipient (unique per campaign and subscriber) in one INSERT … SELECT.
2. It fans out batch tasks. A task *claims* up to a chunk of due rows at a time (a token and a lease,
   ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL), sends each one and marks it sent the moment the
   provider accepted it. Nothing is sent without a claim, and a sent row is never claimed again.
3. A sender that dies leaves claimed rows behind; their lease expires and any other sender takes them
   over. A task that finds only other senders' live claims schedules one check for when they expire,
   and the beat task (``newsletter_tick``) restarts campaigns whose senders went quiet.

The one window left is between the provider's "accepted" and our UPDATE (milliseconds): a sender killed
exactly there has that one message sent again. The Message-ID is the same both times
(``messages.compose``) so the receiving side can tell.
"""

from __future__ import annotations

import logging
import math
import smtplib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from agentwise import ratelimits
from agentwise.access import require
from agentwise.mail import provider_message_id
from content.models import Campaign, CampaignStatus, Delivery, DeliveryStatus, SubscriberStatus

from . import messages, selectors
from .services import campaign_check_sendable

logger = logging.getLogger(__name__)

# A retry further away than this waits for the beat task rather than a Celery ETA (Redis redelivers
# unacknowledged ETA tasks after the visibility timeout, and workers hold them in memory).
ETA_LIMIT_SECONDS = 10 * 60
ERROR_MAX_CHARS = 2000
THROTTLE_BACKOFF_SECONDS = 5


class Failure:
    """How a send error is handled."""

    THROTTLED = "throttled"  # the provider asks us to slow down: back off, spend no attempt
    PROVIDER = "provider"  # the provider is unreachable or failing: back off, this attempt counts
    RECIPIENT_TEMPORARY = "recipient_temporary"  # this address, for now (mailbox full): retry it later
    PERMANENT = "permanent"  # this address, for good (no such user) or a refusal: failed


# SMTP replies that mean "too fast" (SES answers 454 "Throttling failure"; 421 is "try later").
THROTTLE_SMTP_CODES = {421, 454}


def classify(error: Exception) -> str:
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return (
            Failure.RECIPIENT_TEMPORARY
            if codes and all(400 <= code < 500 for code in codes)
            else Failure.PERMANENT
        )
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)).lower()
        if error.smtp_code in THROTTLE_SMTP_CODES or (
            400 <= error.smtp_code < 500 and ("throttl" in text or "rate" in text)
        ):
            return Failure.THROTTLED
        return Failure.PROVIDER if error.smtp_code < 500 else Failure.PERMANENT
    if isinstance(error, AnymailRecipientsRefused):
        return Failure.PERMANENT
    if isinstance(error, AnymailAPIError):
        status = getattr(error, "status_code", None)
        if status == 429:
            return Failure.THROTTLED
        return Failure.PROVIDER if status is None or status >= 500 else Failure.PERMANENT
    # Connection refused or reset, a timeout, a disconnect: the provider, not the address.
    return Failure.PROVIDER


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    stopped: str = ""  # why it stopped early: the campaign's status, "throttled", "provider"
    finished: bool = False

    @property
    def processed(self) -> int:
        return self.sent + self.failed + self.retried + self.skipped


# --- Starting, stopping, resuming ------------------------------------------------------------------


def campaign_start(
    *, campaign_id: int, actor=None, fan_out: bool = True, now: datetime | None = None
) -> Campaign:
    """Draft or scheduled → sending, with its deliveries written; any other status: nothing happens.

    ``actor`` None is the beat task starting a scheduled campaign. ``fan_out`` False leaves the sending
    to the caller (``send_newsletter`` sends in its own process).
    """
    if actor is not None:
        require(actor, "content.manage_campaign")
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("blog_post").get(pk=campaign_id)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        return campaign
    campaign_check_sendable(campaign)
    with transaction.atomic():
        started = Campaign.objects.filter(
            pk=campaign_id, status__in=[CampaignStatus.DRAFT, CampaignStatus.SCHEDULED]
        ).update(status=CampaignStatus.SENDING, started_at=now, heartbeat_at=now, finished_at=None)
        if not started:  # pressed twice at once: the other press started it
            return Campaign.objects.get(pk=campaign_id)
        deliveries_create(campaign, now=now)
        total = Delivery.objects.filter(campaign_id=campaign_id).count()
        Campaign.objects.filter(pk=campaign_id).update(total_count=total)
        if fan_out:
            transaction.on_commit(lambda: campaign_fan_out(campaign_id=campaign_id))
    if total == 0:
        campaign_finish_if_done(campaign_id=campaign_id, now=now)
    campaign.refresh_from_db()
    return campaign


def deliveries_create(campaign: Campaign, *, now: datetime) -> int:
    """One queued row per recipient, in one INSERT … SELECT from the audience's own query; a row that
    exists already (a restart) is left as it is."""
    audience_sql, audience_params = (
        selectors.campaign_audience(campaign).values_list("id", "email").order_by().query.sql_with_params()
    )
    stamp = db_connection.ops.adapt_datetimefield_value(now)
    table = Delivery._meta.db_table
    sql = (
        f"INSERT INTO {table} (campaign_id, subscriber_id, email, status, provider_message_id, error, attempts, "
        f"next_attempt_at, created_at) "
        f"SELECT %s, audience.id, audience.email, %s, '', '', 0, %s, %s FROM ({audience_sql}) audience WHERE true "
        f"ON CONFLICT (campaign_id, subscriber_id) DO NOTHING"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, DeliveryStatus.QUEUED, stamp, stamp, *audience_params])
        return cursor.rowcount


def campaign_resume(*, actor, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """A paused campaign sends on where it stopped; the error rate is measured afresh from here."""
    require(actor, "content.manage_campaign")
    now = now or timezone.now()
    updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.PAUSED).update(
        status=CampaignStatus.SENDING,
        paused_at=None,
        pause_reason="",
        heartbeat_at=now,
        pause_baseline_sent=F("sent_count"),
        pause_baseline_failed=F("failed_count"),
    )
    if not updated:
        raise ValidationError({"status": ["Only a paused campaign can be resumed."]})
    transaction.on_commit(lambda: campaign_fan_out(campaign_id=campaign.pk))
    campaign.refresh_from_db()
    return campaign


def campaign_resend_failed(*, actor, campaign: Campaign, now: datetime | None = None) -> int:
    """Queues the failed deliveries again (only those: the rest got it) and sends them. Returns how many."""
    require(actor, "content.manage_campaign")
    now = now or timezone.now()
    if campaign.status not in (CampaignStatus.SENT, CampaignStatus.SENDING, CampaignStatus.PAUSED):
        raise ValidationError({"status": ["Only a campaign that was sent can resend to failed recipients."]})
    with transaction.atomic():
        requeued = Delivery.objects.filter(campaign_id=campaign.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            claim_token=None,
            claimed_until=None,
        )
        if requeued:
            campaign_recount(campaign_id=campaign.pk)  # exact counters to measure the error rate from
            Campaign.objects.filter(pk=campaign.pk).update(
                status=CampaignStatus.SENDING,
                finished_at=None,
                paused_at=None,
                pause_reason="",
                heartbeat_at=now,
                pause_baseline_sent=F("sent_count"),
                pause_baseline_failed=F("failed_count"),
            )
            transaction.on_commit(lambda: campaign_fan_out(campaign_id=campaign.pk))
    campaign.refresh_from_db()
    return requeued


def campaign_fan_out(*, campaign_id: int, now: datetime | None = None) -> int:
    """One batch task per NEWSLETTER_BATCH_SIZE due rows. Extra tasks are harmless: they find nothing."""
    now = now or timezone.now()
    due = _due_queued(campaign_id, now).count() + _stale_claims(campaign_id, now).count()
    if not due:
        campaign_finish_if_done(campaign_id=campaign_id, now=now)
    tasks = math.ceil(due / settings.NEWSLETTER_BATCH_SIZE)
    for _ in range(tasks):
        _schedule_batch(campaign_id)
    return tasks


# --- Sending -------------------------------------------------------------------------------------


def campaign_batch_send(
    *,
    campaign_id: int,
    limit: int | None = None,
    connection=None,
    throttle_round: int = 0,
    progress=None,
    follow_up: bool = True,
) -> BatchReport:
    """Sends up to ``limit`` due deliveries of a sending campaign, a claimed chunk at a time.

    The campaign's status is read again before each chunk, so a cancel or a pause takes effect within
    one chunk. ``connection``: an email backend connection to reuse (default: EMAIL_BACKEND's).
    ``progress``: called with the number of rows done after each chunk (the command's progress bar).
    ``follow_up`` False: the caller loops itself (``send_newsletter``) and wants no extra tasks.
    """
    limit = limit or settings.NEWSLETTER_BATCH_SIZE
    report = BatchReport()
    mail = connection or get_connection()
    body = None
    opened = False
    _commit_without_waiting_for_disk(True)
    try:
        while report.processed < limit and not report.stopped:
            campaign = Campaign.objects.select_related("blog_post").get(pk=campaign_id)
            if campaign.status != CampaignStatus.SENDING:
                report.stopped = campaign.status
                break
            token, chunk = deliveries_claim(
                campaign_id=campaign_id, size=min(settings.NEWSLETTER_CLAIM_CHUNK, limit - report.processed)
            )
            if not chunk:
                break
            report.claimed += len(chunk)
            if body is None:
                body = messages.campaign_body(campaign)
            if not opened:
                mail.open()
                opened = True
            before = (report.sent, report.failed)
            _send_chunk(mail, body, campaign_id, token, chunk, report, throttle_round)
            sent, failed = report.sent - before[0], report.failed - before[1]
            Campaign.objects.filter(pk=campaign_id).update(
                sent_count=F("sent_count") + sent,
                failed_count=F("failed_count") + failed,
                heartbeat_at=timezone.now(),
            )
            if failed:
                campaign_pause_if_failing(campaign_id=campaign_id)
            if progress is not None:
                progress(len(chunk))
    finally:
        _commit_without_waiting_for_disk(False)
        if opened:
            try:
                mail.close()
            except Exception:  # noqa: BLE001 (closing a broken SMTP session can raise; nothing is lost)
                logger.debug("Closing the email connection failed.", exc_info=True)
    report.finished = campaign_finish_if_done(campaign_id=campaign_id)
    if follow_up and not report.finished and not report.stopped:
        _schedule_follow_up(campaign_id)
    return report


def deliveries_claim(
    *, campaign_id: int, size: int, now: datetime | None = None
) -> tuple[uuid.UUID, list[Delivery]]:
    """Takes up to ``size`` due rows for this sender: expired claims of a dead sender first, then queued
    rows in order. Concurrent senders get disjoint rows (SKIP LOCKED, and the conditional UPDATE where
    the database has no row locks)."""
    now = now or timezone.now()
    token = uuid.uuid4()
    lease = timedelta(seconds=settings.NEWSLETTER_CLAIM_SECONDS)
    with transaction.atomic():
        stale = list(
            _stale_claims(campaign_id, now)
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", flat=True)[:size]
        )
        queued = []
        if len(stale) < size:
            queued = list(
                _due_queued(campaign_id, now)
                .select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", flat=True)[: size - len(stale)]
            )
        if stale:
            Delivery.objects.filter(
                pk__in=stale, status=DeliveryStatus.SENDING, claimed_until__lt=now
            ).update(claim_token=token, claimed_until=now + lease, attempts=F("attempts") + 1)
        if queued:
            Delivery.objects.filter(pk__in=queued, status=DeliveryStatus.QUEUED).update(
                status=DeliveryStatus.SENDING,
                claim_token=token,
                claimed_until=now + lease,
                attempts=F("attempts") + 1,
            )
    if not stale and not queued:
        return token, []
    rows = (
        Delivery.objects.filter(pk__in=stale + queued, claim_token=token)
        .select_related("subscriber__user__profile")
        .order_by("id")
    )
    return token, list(rows)


def _send_chunk(
    mail, body, campaign_id: int, token, chunk: list[Delivery], report: BatchReport, throttle_round: int
) -> None:
    lease_renew_at = time.monotonic() + settings.NEWSLETTER_CLAIM_SECONDS / 2
    rate = settings.NEWSLETTER_RATE_PER_SECOND
    ours = None  # ids still claimed by this sender, once a renewal has checked
    for index, delivery in enumerate(chunk):
        if time.monotonic() >= lease_renew_at:
            ours = _renew(token, [d.pk for d in chunk[index:]])
            lease_renew_at = time.monotonic() + settings.NEWSLETTER_CLAIM_SECONDS / 2
        if ours is not None and delivery.pk not in ours:
            continue  # this sender stalled past its lease and another took the row over
        subscriber = delivery.subscriber
        if subscriber.status != SubscriberStatus.ACTIVE:
            # Unsubscribed, bounced or complained since the campaign started: not mailed.
            _finish_row(delivery, token, status=DeliveryStatus.SKIPPED)
            report.skipped += 1
            continue
        if rate:
            ratelimits.rate_limit_wait("newsletter.send", rate=f"{rate}/second")
        message = messages.compose(
            body,
            campaign_id=campaign_id,
            email=delivery.email,
            name=messages.greeting_name(subscriber),
            subscriber_id=subscriber.pk,
            delivery_id=delivery.pk,
        )
        try:
            mail.send_messages([message])
        except Exception as error:  # noqa: BLE001 (SMTP, network or an ESP's API: classified below)
            kind = classify(error)
            text = f"{type(error).__name__}: {error}"[:ERROR_MAX_CHARS]
            rest = chunk[index + 1 :]
            if kind == Failure.PERMANENT:
                _finish_row(delivery, token, status=DeliveryStatus.FAILED, error=text)
                report.failed += 1
                continue
            if kind == Failure.RECIPIENT_TEMPORARY:
                if _retry_row(delivery, token, error=text):
                    report.failed += 1
                else:
                    report.retried += 1
                continue
            # The provider: stop this sender, hand the rest back, and come back after a pause.
            if kind == Failure.THROTTLED:
                _release(
                    [delivery, *rest],
                    token,
                    delay=_throttle_backoff(throttle_round),
                    spend_attempt=False,
                    error=text,
                )
                report.stopped = Failure.THROTTLED
                logger.warning("Campaign %s throttled by the provider (%s); backing off.", campaign_id, text)
            else:
                failed_for_good = _retry_row(delivery, token, error=text)
                report.failed += failed_for_good
                report.retried += 1 - failed_for_good
                _release(rest, token, delay=_backoff(delivery.attempts), spend_attempt=False)
                report.stopped = Failure.PROVIDER
                logger.warning("Campaign %s: provider error (%s); backing off.", campaign_id, text)
                _reset(mail)
            delay = (
                _throttle_backoff(throttle_round)
                if kind == Failure.THROTTLED
                else _backoff(delivery.attempts)
            )
            _schedule_batch(campaign_id, countdown=delay, throttle_round=throttle_round + 1)
            report.retried += len(rest) + (1 if kind == Failure.THROTTLED else 0)
            return
        provider_id = provider_message_id(message)
        if not _finish_row(delivery, token, status=DeliveryStatus.SENT, provider_message_id=provider_id):
            logger.warning(
                "Delivery %s was sent after its claim expired; it may have gone out twice.", delivery.pk
            )
        report.sent += 1


def _commit_without_waiting_for_disk(on: bool) -> None:
    """PostgreSQL's ``synchronous_commit = off`` for this sender's connection while it sends.

    Each message is marked sent in its own commit; waiting for the WAL to reach the disk every time
    was most of a message's cost. A killed worker loses nothing (the commit is in PostgreSQL's
    memory); only a crash of the database server itself can forget the last fraction of a second of
    "sent" marks (at most 3 × wal_writer_delay), and those few messages would then go out twice.
    """
    if db_connection.vendor != "postgresql":
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off" if on else "RESET synchronous_commit")


def _finish_row(
    delivery: Delivery, token, *, status: str, error: str = "", provider_message_id: str = ""
) -> bool:
    """Records the outcome if the row is still ours. One plain UPDATE per message (no ORM compile): it
    is the step that makes a crash resend at most the message in flight, so it runs for every one."""
    now = (
        db_connection.ops.adapt_datetimefield_value(timezone.now()) if status == DeliveryStatus.SENT else None
    )
    claim = Delivery._meta.get_field("claim_token").get_db_prep_value(token, db_connection)
    with db_connection.cursor() as cursor:
        cursor.execute(_FINISH_SQL, [status, error, provider_message_id, now, delivery.pk, claim])
        return cursor.rowcount == 1


_FINISH_SQL = (
    f"UPDATE {Delivery._meta.db_table} SET status = %s, error = %s, provider_message_id = %s, sent_at = %s, "
    "claim_token = NULL, claimed_until = NULL WHERE id = %s AND claim_token = %s"
)


def _retry_row(delivery: Delivery, token, *, error: str) -> int:
    """A temporary failure: again later with back-off, or failed for good after NEWSLETTER_MAX_ATTEMPTS.
    Returns 1 when it failed for good (it counts as a failure then)."""
    if delivery.attempts >= settings.NEWSLETTER_MAX_ATTEMPTS:
        _finish_row(delivery, token, status=DeliveryStatus.FAILED, error=error)
        return 1
    Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
        status=DeliveryStatus.QUEUED,
        error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=_backoff(delivery.attempts)),
        claim_token=None,
        claimed_until=None,
    )
    return 0


def _release(rows: list[Delivery], token, *, delay: float, spend_attempt: bool, error: str = "") -> None:
    if not rows:
        return
    updates = {
        "status": DeliveryStatus.QUEUED,
        "next_attempt_at": timezone.now() + timedelta(seconds=delay),
        "claim_token": None,
        "claimed_until": None,
    }
    if not spend_attempt:
        updates["attempts"] = F("attempts") - 1
    if error:
        updates["error"] = error
    Delivery.objects.filter(pk__in=[row.pk for row in rows], claim_token=token).update(**updates)


def _renew(token, ids: list[int]) -> set[int]:
    """Extends the lease on the rows still ours and returns their ids."""
    until = timezone.now() + timedelta(seconds=settings.NEWSLETTER_CLAIM_SECONDS)
    rows = Delivery.objects.filter(pk__in=ids, claim_token=token, status=DeliveryStatus.SENDING)
    rows.update(claimed_until=until)
    return set(rows.values_list("pk", flat=True))


def _throttle_backoff(throttle_round: int) -> float:
    """Too fast for the provider: a short pause first (rates are per second), doubling while it lasts."""
    return min(settings.NEWSLETTER_RETRY_MAX_SECONDS, THROTTLE_BACKOFF_SECONDS * 2**throttle_round)


def _backoff(attempt: int) -> float:
    return min(
        settings.NEWSLETTER_RETRY_MAX_SECONDS, settings.NEWSLETTER_RETRY_SECONDS * 2 ** max(attempt - 1, 0)
    )


def _reset(mail) -> None:
    """Drops a broken connection; the next send opens a fresh one."""
    try:
        mail.close()
    except Exception:  # noqa: BLE001
        logger.debug("Closing a broken email connection failed.", exc_info=True)


# --- Finishing, pausing, the beat ------------------------------------------------------------------


def campaign_finish_if_done(*, campaign_id: int, now: datetime | None = None) -> bool:
    """Sending → sent once no row is queued or claimed; the counters are recounted from the rows."""
    if _waiting(campaign_id).exists():
        return False
    finished = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.SENT, finished_at=now or timezone.now(), **_counters(campaign_id)
    )
    return bool(finished) or Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENT).exists()


def campaign_recount(*, campaign_id: int) -> None:
    """Sets the progress counters from the rows (a sender that died kept a chunk's count to itself)."""
    Campaign.objects.filter(pk=campaign_id).update(**_counters(campaign_id))


def _counters(campaign_id: int) -> dict:
    """The campaign's counters as its rows say (a bounce was sent first, so it counts as sent)."""
    counts = selectors.campaign_delivery_counts(campaign_id)
    return {
        "total_count": sum(counts.values()),
        "sent_count": counts[DeliveryStatus.SENT] + counts[DeliveryStatus.BOUNCED],
        "failed_count": counts[DeliveryStatus.FAILED],
    }


def campaign_pause_if_failing(*, campaign_id: int, now: datetime | None = None) -> bool:
    """Pauses a sending campaign once NEWSLETTER_PAUSE_ERROR_RATE of its attempts since it (re)started
    failed, after at least NEWSLETTER_PAUSE_MIN_SAMPLE of them: a bad list or a broken provider stops
    costing reputation until someone looks. It resumes where it stopped."""
    campaign = Campaign.objects.get(pk=campaign_id)
    sent = campaign.sent_count - campaign.pause_baseline_sent
    failed = campaign.failed_count - campaign.pause_baseline_failed
    attempts = sent + failed
    if (
        attempts < settings.NEWSLETTER_PAUSE_MIN_SAMPLE
        or failed / attempts < settings.NEWSLETTER_PAUSE_ERROR_RATE
    ):
        return False
    if not _waiting(campaign_id).exists():
        return False  # nothing left to protect: it finishes as sent, and "resend to failed" is there
    reason = f"Paused by itself: {failed} of the last {attempts} messages failed ({failed / attempts:.0%})."
    paused = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.PAUSED, paused_at=now or timezone.now(), pause_reason=reason
    )
    if paused:
        logger.error("Campaign %s: %s", campaign_id, reason)
    return bool(paused)


def newsletter_tick(*, now: datetime | None = None) -> dict:
    """Every minute (beat): starts scheduled campaigns whose time has come, and restarts sending
    campaigns whose senders went quiet (their tasks lost, their workers killed)."""
    now = now or timezone.now()
    started = restarted = finished = 0
    due = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now).values_list(
        "pk", flat=True
    )
    for campaign_id in list(due):
        try:
            campaign_start(campaign_id=campaign_id, now=now)
            started += 1
        except ValidationError as error:
            # Not sendable any more (its blog post was unpublished): paused, with the reason shown.
            Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SCHEDULED).update(
                status=CampaignStatus.PAUSED, paused_at=now, pause_reason="; ".join(error.messages)[:500]
            )
    quiet = Campaign.objects.filter(
        status=CampaignStatus.SENDING,
        heartbeat_at__lt=now - timedelta(seconds=settings.NEWSLETTER_STALL_SECONDS),
    )
    for campaign_id in list(quiet.values_list("pk", flat=True)):
        if campaign_finish_if_done(campaign_id=campaign_id, now=now):
            finished += 1
            continue
        campaign_recount(campaign_id=campaign_id)
        Campaign.objects.filter(pk=campaign_id).update(heartbeat_at=now)
        if campaign_fan_out(campaign_id=campaign_id, now=now):
            restarted += 1
    return {"started": started, "restarted": restarted, "finished": finished}


def _waiting(campaign_id: int):
    return Delivery.objects.filter(
        campaign_id=campaign_id, status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING]
    )


def _due_queued(campaign_id: int, now: datetime):
    return Delivery.objects.filter(
        campaign_id=campaign_id, status=DeliveryStatus.QUEUED, next_attempt_at__lte=now
    )


def _stale_claims(campaign_id: int, now: datetime):
    return Delivery.objects.filter(
        campaign_id=campaign_id, status=DeliveryStatus.SENDING, claimed_until__lt=now
    )


def _schedule_follow_up(campaign_id: int, *, now: datetime | None = None) -> None:
    """A batch ended with the campaign unfinished: one more batch, now if rows are due (a task was
    lost with a killed worker, or fan-out undercounted), else when the earliest waiting row comes due
    (another sender's claim, a retry). At most one per campaign per second (a cache lock), so the
    batches ending together don't pile up tasks; the beat task is the safety net beyond that."""
    now = now or timezone.now()
    if _due_queued(campaign_id, now).exists() or _stale_claims(campaign_id, now).exists():
        seconds = 0.0
    else:
        waiting = Delivery.objects.filter(campaign_id=campaign_id).aggregate(
            claim=Min("claimed_until", filter=Q(status=DeliveryStatus.SENDING)),
            retry=Min("next_attempt_at", filter=Q(status=DeliveryStatus.QUEUED)),
        )
        moments = [moment for moment in (waiting["claim"], waiting["retry"]) if moment is not None]
        if not moments:
            return
        seconds = max(0.0, (min(moments) - now).total_seconds()) + 0.5
        if seconds > ETA_LIMIT_SECONDS:
            return  # the beat task picks it up
    if cache.add(f"newsletter:follow-up:{campaign_id}", 1, timeout=max(1, math.ceil(seconds))):
        _schedule_batch(campaign_id, countdown=seconds or None)


def _schedule_batch(campaign_id: int, *, countdown: float | None = None, throttle_round: int = 0) -> None:
    """Hands a batch to a worker. An unreachable broker is logged, not raised: the rows are saved and
    the beat task fans the campaign out again once it has been quiet for NEWSLETTER_STALL_SECONDS."""
    from agentwise.celery import app
    from content.tasks import newsletter_batch_task

    if countdown and app.conf.task_always_eager:
        # Without a worker (the embedded setup) a delayed retry would run at once, in a loop.
        logger.warning(
            "Campaign %s: a retry in %.0f s needs a Celery worker; resume it from the admin.",
            campaign_id,
            countdown,
        )
        return
    try:
        newsletter_batch_task.apply_async(
            args=[campaign_id], kwargs={"throttle_round": throttle_round}, countdown=countdown
        )
    except Exception:  # noqa: BLE001 (kombu/redis connection errors)
        logger.exception("Could not hand campaign %s to a worker; the beat task will.", campaign_id)
