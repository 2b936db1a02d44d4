"""Demo newsletter for ``seed_demo``: a few subscribers and one sent campaign (the newest blog post).

The campaign goes through the real sender with Django's dummy email backend, so its deliveries and
counters are what a real send leaves behind, and nobody's console fills with demo HTML. Idempotent.
"""

from __future__ import annotations

from django.core.mail import get_connection
from django.utils import timezone

from content.models import (
    BlogPost,
    Campaign,
    PublicationStatus,
    Subscriber,
    SubscriberSource,
    SubscriberStatus,
)

from . import sending

DEMO_SUBJECT = "This month at Agentwise: habits that make coding agents pay off"
READERS = [
    ("grace@example.com", SubscriberStatus.ACTIVE),
    ("linus@example.com", SubscriberStatus.ACTIVE),
    ("margaret@example.com", SubscriberStatus.ACTIVE),
    ("pending-reader@example.com", SubscriberStatus.PENDING),
    ("former-reader@example.com", SubscriberStatus.UNSUBSCRIBED),
]


def seed_newsletter(users: dict, staff) -> int:
    """Returns how many subscribers it added."""
    now = timezone.now()
    added = 0
    for user in users.values():
        _, created = Subscriber.objects.get_or_create(
            email=user.email.lower(),
            defaults={
                "user": user,
                "status": SubscriberStatus.ACTIVE,
                "source": SubscriberSource.DEMO,
                "confirmed_at": now,
            },
        )
        added += created
    for email, status in READERS:
        _, created = Subscriber.objects.get_or_create(
            email=email,
            defaults={
                "status": status,
                "source": SubscriberSource.DEMO,
                "confirmed_at": now if status != SubscriberStatus.PENDING else None,
                "unsubscribed_at": now if status == SubscriberStatus.UNSUBSCRIBED else None,
            },
        )
        added += created
    post = (
        BlogPost.objects.filter(status=PublicationStatus.PUBLISHED, published_at__lte=now)
        .order_by("-published_at")
        .first()
    )
    if post is not None and not Campaign.objects.filter(subject=DEMO_SUBJECT).exists():
        campaign = Campaign.objects.create(
            subject=DEMO_SUBJECT, preheader=post.excerpt[:200], blog_post=post, created_by=staff
        )
        sending.campaign_start(campaign_id=campaign.pk, actor=staff, fan_out=False)
        dummy = get_connection("django.core.mail.backends.dummy.EmailBackend")
        while not sending.campaign_batch_send(
            campaign_id=campaign.pk, connection=dummy, follow_up=False
        ).finished:
            pass
    return added
