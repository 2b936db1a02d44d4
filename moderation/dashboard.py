"""The admin index's figures (docs/moderation.md): what needs a moderator now, and the last 14 days.

A fixed number of queries whatever the data (each count is one aggregate; the chart is two grouped
queries), so the index stays fast as the tables grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import BotDetection, ItemStatus, ModerationItem, Sanction

CHART_DAYS = 14


@dataclass(frozen=True)
class Tile:
    label: str
    value: int
    url: str
    hint: str = ""


@dataclass(frozen=True)
class Day:
    day: date
    reports: int
    blocks: int


def _hidden_content_count() -> int:
    from community.models import ForumPost, ForumReply, Message, ModerationState

    hidden = Q(moderation_state=ModerationState.HIDDEN, deleted_at__isnull=True)
    return (
        Message.objects.filter(hidden).count()
        + ForumPost.objects.filter(moderation_state=ModerationState.HIDDEN).count()
        + ForumReply.objects.filter(hidden).count()
    )


def active_blocks(now=None):
    now = now or timezone.now()
    return BotDetection.objects.filter(is_blocked=True, lifted_at__isnull=True, blocked_until__gt=now)


def active_sanctions(now=None):
    now = now or timezone.now()
    return Sanction.objects.filter(lifted_at__isnull=True, starts_at__lte=now).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def dashboard_tiles(*, now=None) -> list[Tile]:
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    queue = ModerationItem.objects.aggregate(
        pending_items=Count("content_id", filter=Q(status=ItemStatus.PENDING), distinct=True),
        pending=Count("pk", filter=Q(status=ItemStatus.PENDING)),
        today=Count("pk", filter=Q(created_at__gte=today, source="report")),
    )
    base = "/admin/moderation/"
    return [
        Tile(
            "Pending reports",
            queue["pending"],
            f"{base}moderationitem/?state=pending",  # the queue lists items, each with its reports
            hint=f"on {queue['pending_items']} item(s)",
        ),
        Tile("Reports today", queue["today"], f"{base}moderationitem/?created_at__gte={today.date().isoformat()}"),
        Tile("Hidden items", _hidden_content_count(), f"{base}moderationitem/?state=pending", hint="in the queue, awaiting review"),
        Tile("Active blocks", active_blocks(now).count(), f"{base}botdetection/?block=active"),
        Tile("Active sanctions", active_sanctions(now).count(), f"{base}sanction/?active=yes"),
    ]


def dashboard_chart(*, now=None, days: int = CHART_DAYS) -> list[Day]:
    """Reports and blocks per day for the last ``days`` days (today included), oldest first, zeros kept."""
    now = now or timezone.now()
    last = timezone.localtime(now).date()
    first = last - timedelta(days=days - 1)
    start = timezone.make_aware(timezone.datetime.combine(first, timezone.datetime.min.time()))

    def per_day(queryset) -> dict[date, int]:
        rows = queryset.filter(created_at__gte=start).annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("pk"))
        return {row["day"]: row["n"] for row in rows}

    reports = per_day(ModerationItem.objects.filter(source="report"))
    blocks = per_day(BotDetection.objects.filter(is_blocked=True))
    return [
        Day(first + timedelta(days=i), reports.get(first + timedelta(days=i), 0), blocks.get(first + timedelta(days=i), 0))
        for i in range(days)
    ]
