"""Reads for the newsletter: who a campaign goes to, and how a campaign is doing."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from content.models import Campaign, CampaignAudience, Delivery, DeliveryStatus, Subscriber, SubscriberStatus


def campaign_audience(campaign: Campaign) -> QuerySet[Subscriber]:
    """Active subscribers the campaign goes to; a plan segment needs an account on that plan."""
    audience = Subscriber.objects.filter(status=SubscriberStatus.ACTIVE)
    if campaign.audience == CampaignAudience.TIER:
        audience = audience.filter(
            user__is_active=True, user__profile__subscription_tier=campaign.audience_tier
        )
    return audience


def campaign_delivery_counts(campaign_id: int) -> dict[str, int]:
    """Deliveries by status: one grouped COUNT over the campaign's index."""
    rows = (
        Delivery.objects.filter(campaign_id=campaign_id).values("status").annotate(n=Count("id")).order_by()
    )
    counts = {status: 0 for status in DeliveryStatus.values}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def campaign_stats(campaign: Campaign) -> dict:
    """What the admin shows for a campaign: progress, outcomes, and the most common errors."""
    counts = campaign_delivery_counts(campaign.pk)
    extra = Delivery.objects.filter(campaign_id=campaign.pk).aggregate(
        complaints=Count("id", filter=Q(complained_at__isnull=False)),
        unsubscribes=Count("id", filter=Q(unsubscribed_at__isnull=False)),
    )
    delivered = counts[DeliveryStatus.SENT] + counts[DeliveryStatus.BOUNCED]
    attempted = delivered + counts[DeliveryStatus.FAILED]
    errors = (
        Delivery.objects.filter(campaign_id=campaign.pk, status=DeliveryStatus.FAILED)
        .values("error")
        .annotate(n=Count("id"))
        .order_by("-n")[:5]
    )
    return {
        "status": campaign.status,
        "total": sum(counts.values()),
        "sent": delivered,
        "failed": counts[DeliveryStatus.FAILED],
        "bounced": counts[DeliveryStatus.BOUNCED],
        "skipped": counts[DeliveryStatus.SKIPPED],
        "waiting": counts[DeliveryStatus.QUEUED] + counts[DeliveryStatus.SENDING],
        "complaints": extra["complaints"],
        "unsubscribes": extra["unsubscribes"],
        "error_rate": round(counts[DeliveryStatus.FAILED] / attempted, 4) if attempted else 0.0,
        "bounce_rate": round(counts[DeliveryStatus.BOUNCED] / delivered, 4) if delivered else 0.0,
        "top_errors": [{"error": row["error"][:300], "count": row["n"]} for row in errors],
        "pause_reason": campaign.pause_reason,
    }


def campaign_progress(campaign: Campaign) -> dict:
    """The live progress bar: the senders' own counters (no COUNT over the deliveries)."""
    return {
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        "sent": campaign.sent_count,
        "failed": campaign.failed_count,
        "total": campaign.total_count,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "pause_reason": campaign.pause_reason,
    }


def subscriber_for_user(user) -> Subscriber | None:
    if user is None or not user.is_authenticated:
        return None
    return (
        Subscriber.objects.filter(user=user).first()
        or Subscriber.objects.filter(email=user.email.lower()).first()
    )
