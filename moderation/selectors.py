"""Reads for moderation: the content a report is about (as its reporter may see it), the queue grouped
by item, and the numbers of the transparency report."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, Max, Min, Q, QuerySet, When
from django.urls import reverse

from agentwise.errors import NotFound

from .models import DecisionKind, ItemStatus, ModerationDecision, ModerationItem, ReportedType

EXCERPT_CHARS = 1000


@dataclass
class ReportedContent:
    """One reportable thing: its type and id, its author, a text excerpt, where it lives, and the object."""

    content_type: str
    content_id: str
    author: object
    excerpt: str
    url: str
    obj: object
    has_state: bool = True  # carries ``moderation_state`` (a profile does not)


def _message(obj) -> ReportedContent:
    return ReportedContent(ReportedType.MESSAGE, str(obj.pk), obj.user, obj.content[:EXCERPT_CHARS],
                           f"/community/?channel={obj.channel_id}", obj)


def _forum_post(obj) -> ReportedContent:
    return ReportedContent(ReportedType.FORUM_POST, str(obj.pk), obj.author, f"{obj.title}\n\n{obj.content}"[:EXCERPT_CHARS],
                           obj.get_absolute_url(), obj)


def _forum_reply(obj) -> ReportedContent:
    return ReportedContent(ReportedType.FORUM_REPLY, str(obj.pk), obj.author, obj.content[:EXCERPT_CHARS],
                           f"{obj.post.get_absolute_url()}#reply-{obj.pk}", obj)


def _profile(profile) -> ReportedContent:
    text = "\n".join(part for part in (profile.full_name, profile.bio) if part)
    return ReportedContent(ReportedType.PROFILE, str(profile.user_id), profile.user, text[:EXCERPT_CHARS],
                           reverse("profile_detail", kwargs={"username": profile.user.username}), profile, has_state=False)


def reported_content_get(*, user, content_type: str, content_id) -> ReportedContent:
    """The content as ``user`` may see it (live: a deleted message or reply is gone). Raises NotFound for
    unknown and invisible alike, so a report never reveals private content."""
    from accounts.models import Profile
    from agentwise.access import get_visible
    from community import selectors as community

    content_id = str(content_id)
    if content_type == ReportedType.MESSAGE:
        return _message(community.message_get_visible(user=user, message_id=content_id, deleted_ok=False))
    if content_type == ReportedType.FORUM_POST:
        return _forum_post(community.forum_post_get_visible(user=user, post_id=content_id))
    if content_type == ReportedType.FORUM_REPLY:
        return _forum_reply(community.forum_reply_get_visible(user=user, reply_id=content_id))
    if content_type == ReportedType.PROFILE:
        return _profile(get_visible(Profile.objects.select_related("user"), user_id=content_id, user__is_active=True))
    raise NotFound()


def content_for_staff(*, content_type: str, content_id) -> ReportedContent | None:
    """The content as it is now, for a moderator (deleted or hidden too); None when it no longer exists."""
    from accounts.models import Profile
    from community.models import ForumPost, ForumReply, Message

    content_id = str(content_id)
    try:
        if content_type == ReportedType.MESSAGE:
            obj = Message.objects.select_related("channel", "user").filter(pk=content_id).first()
            return _message(obj) if obj else None
        if content_type == ReportedType.FORUM_POST:
            obj = ForumPost.objects.defer("search_vector").select_related("author").filter(pk=content_id).first()
            return _forum_post(obj) if obj else None
        if content_type == ReportedType.FORUM_REPLY:
            obj = ForumReply.objects.select_related("post", "author").filter(pk=content_id).first()
            return _forum_reply(obj) if obj else None
        if content_type == ReportedType.PROFILE:
            obj = Profile.objects.select_related("user").filter(user_id=content_id).first()
            return _profile(obj) if obj else None
    except (ValueError, TypeError):
        return None
    return None


def report_open_for(*, reporter, content_type: str, content_id) -> ModerationItem | None:
    return ModerationItem.objects.filter(
        content_type=content_type, content_id=str(content_id), reported_by=reporter, status=ItemStatus.PENDING
    ).first()


def item_reports(*, content_type: str, content_id) -> QuerySet[ModerationItem]:
    """Every report and flag on one item, pending first, oldest first."""
    return (
        ModerationItem.objects.filter(content_type=content_type, content_id=str(content_id))
        .select_related("reported_by", "moderator", "rule", "content_author")
        .order_by(Case(When(status=ItemStatus.PENDING, then=0), default=1), "created_at")
    )


def queue_groups() -> QuerySet:
    """The queue as one row per item ``(content_type, content_id)``: ``pending`` reports, ``total``,
    ``first_at``, ``last_at``; items with pending reports first, then the most reported, then the oldest."""
    return (
        ModerationItem.objects.order_by()
        .values("content_type", "content_id")
        .annotate(
            pending=Count("pk", filter=Q(status=ItemStatus.PENDING)),
            reporters=Count("reported_by", distinct=True, filter=Q(status=ItemStatus.PENDING)),
            total=Count("pk"),
            first_at=Min("created_at"),
            last_at=Max("created_at"),
        )
        .order_by("-pending", "first_at")
    )


def distinct_open_reporters(*, content_type: str, content_id) -> int:
    return (
        ModerationItem.objects.filter(content_type=content_type, content_id=str(content_id), status=ItemStatus.PENDING,
                                      reported_by__isnull=False)
        .values("reported_by").distinct().count()
    )


# --- Transparency report -----------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    # nearest-rank: the smallest value with at least q of the values at or below it
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def transparency_report(*, since: datetime, until: datetime) -> dict:
    """Decisions by kind, by rule category and by outcome; reports received and resolved; the median
    and 90th percentile of hours from first report to decision, for ``since <= t < until``."""
    decisions = ModerationDecision.objects.filter(created_at__gte=since, created_at__lt=until)
    by_kind = dict(decisions.order_by().values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    by_rule = {
        (category or "(no rule)"): n
        for category, n in decisions.order_by().values_list("rule__category").annotate(n=Count("pk")).values_list("rule__category", "n")
    }
    manual = decisions.exclude(kind__in=[DecisionKind.BLOCK, DecisionKind.HIDE])
    outcomes = {
        "content removed": decisions.filter(kind__in=[DecisionKind.REMOVE, DecisionKind.PURGE]).count(),
        "reports dismissed": decisions.filter(kind=DecisionKind.APPROVE).count(),
        "users sanctioned": decisions.filter(kind=DecisionKind.SANCTION).count(),
        "sanctions lifted": decisions.filter(kind=DecisionKind.LIFT).count(),
        "hidden automatically": decisions.filter(kind=DecisionKind.HIDE).count(),
        "refused by rules": decisions.filter(kind=DecisionKind.BLOCK).count(),
        "by moderators": manual.count(),
    }
    reports = ModerationItem.objects.filter(source="report")
    received = reports.filter(created_at__gte=since, created_at__lt=until)
    resolved = reports.filter(resolved_at__gte=since, resolved_at__lt=until)
    hours = [
        (decided - first).total_seconds() / 3600
        for decided, first in decisions.filter(first_reported_at__isnull=False)
        .exclude(kind=DecisionKind.HIDE).values_list("created_at", "first_reported_at")
    ]
    median = statistics.median(hours) if hours else None
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "decisions": {"total": decisions.count(), "by_kind": dict(sorted(by_kind.items())),
                      "by_rule": dict(sorted(by_rule.items())), "by_outcome": outcomes},
        "reports": {
            "received": received.count(),
            "resolved": resolved.count(),
            "resolved_by_status": dict(sorted(resolved.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))),
            "by_content_type": dict(sorted(received.order_by().values_list("content_type").annotate(n=Count("pk")).values_list("content_type", "n"))),
        },
        "time_to_resolve_hours": {
            "decisions": len(hours),
            "median": round(median, 2) if median is not None else None,
            "p90": round(_percentile(hours, 0.9), 2) if hours else None,
        },
    }
