"""Writes for the newsletter's subscribers and campaigns. Sending itself is ``newsletter.sending``.

Every door (the API, the pages, the account settings, the admin, the webhooks) changes subscribers and
campaigns through these functions, so double opt-in, "never mail a bounced address again" and the
campaign's state machine hold whoever asks.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from agentwise import ratelimits
from agentwise.access import require
from agentwise.errors import NotFound
from agentwise.mail import email_enqueue, templated_email
from content.blocks import clean_blocks
from content.models import (
    BlogPost,
    Campaign,
    CampaignAudience,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    NewsletterSuppression,
    PublicationStatus,
    Subscriber,
    SubscriberSource,
    SubscriberStatus,
)

from . import messages, selectors, tokens

logger = logging.getLogger(__name__)

# Addresses that are never mailed again, whoever asks: the recipient's system or the recipient said so.
BLOCKED_STATUSES = (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


def normalise_email(value) -> str:
    """Trimmed and lower-cased, as users' emails are: one subscriber per mailbox however it is typed."""
    email = str(value or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": ["Enter a valid email address."]}) from error
    if len(email) > 254:
        raise ValidationError({"email": ["An email address has at most 254 characters."]})
    return email


# --- Forgetting (account deletion) ------------------------------------------------------------------

# The owner of the address acting themselves (double opt-in, or a verified account's own toggle): these
# may add a suppressed address back, and doing so lifts the suppression. Any other way in may not.
CONSENTED_SOURCES = (SubscriberSource.FORM, SubscriberSource.API, SubscriberSource.ACCOUNT)


def email_sha256(email: str) -> str:
    return hashlib.sha256(str(email or "").strip().lower().encode()).hexdigest()


def newsletter_suppressed(email: str) -> bool:
    return NewsletterSuppression.objects.filter(email_sha256=email_sha256(email)).exists()


def newsletter_forget(*, user, emails=()) -> int:
    """Removes the user's subscriptions (their own row and any row for their addresses: the account's and
    ``emails``, the ones they proved are theirs) with their delivery history, and suppresses each address
    by its hash only. In the caller's transaction. Returns rows removed."""
    addresses = {str(e).strip().lower() for e in (user.email, *emails) if e}
    rows = Subscriber.objects.filter(user=user) | Subscriber.objects.filter(email__in=addresses)
    for email in addresses:
        NewsletterSuppression.objects.get_or_create(email_sha256=email_sha256(email))
    removed = 0
    for subscriber in rows.distinct():
        Delivery.objects.filter(subscriber=subscriber).delete()
        subscriber.delete()
        removed += 1
    return removed


def _suppression_check(email: str, source: str) -> None:
    if source not in CONSENTED_SOURCES and newsletter_suppressed(email):
        raise ValidationError({"email": ["This address asked to be forgotten; only its owner can subscribe it again."]})


def _suppression_lift(email: str) -> None:
    NewsletterSuppression.objects.filter(email_sha256=email_sha256(email)).delete()


# --- Subscribing ------------------------------------------------------------------------------------


def subscriber_subscribe(*, email: str, source: str = SubscriberSource.FORM, user=None) -> Subscriber | None:
    """Asks an address to confirm (double opt-in). The caller learns nothing about the address: the
    API answers 202 whatever happened. An active address gets a note that nothing changed; a bounced
    or complained-about one gets nothing. Confirmation emails are limited per address."""
    email = normalise_email(email)
    with transaction.atomic():
        subscriber = _get_or_create(email=email, source=source, user=user)
        if subscriber.status in BLOCKED_STATUSES:
            return subscriber
        if subscriber.status == SubscriberStatus.ACTIVE:
            _send_already_subscribed(subscriber)
            return subscriber
        if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
            Subscriber.objects.filter(pk=subscriber.pk).update(status=SubscriberStatus.PENDING, source=source)
            subscriber.status = SubscriberStatus.PENDING
        _send_confirmation(subscriber, email=subscriber.email)
    return subscriber


def subscriber_confirm(*, token: str, now: datetime | None = None) -> Subscriber:
    """The confirmation link's POST: activates the address, or moves the subscription to a new one.

    Raises NotFound for a bad or expired token and ValidationError when the new address is taken.
    """
    claim = tokens.read_confirm_token(token)
    now = now or timezone.now()
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(pk=claim.subscriber_id).first()
        if subscriber is None:
            raise NotFound("This confirmation link is invalid or has expired.")
        if subscriber.status in BLOCKED_STATUSES:
            return subscriber
        if claim.email != subscriber.email:
            if Subscriber.objects.filter(email=claim.email).exclude(pk=subscriber.pk).exists():
                raise ValidationError({"email": ["That address is already on the list."]})
            subscriber.email = claim.email
        if subscriber.status != SubscriberStatus.ACTIVE:
            subscriber.status = SubscriberStatus.ACTIVE
            subscriber.confirmed_at = now
            subscriber.unsubscribed_at = None
            _suppression_lift(subscriber.email)  # the mailbox's owner confirmed: their consent, renewed
        elif subscriber.confirmed_at is None:
            subscriber.confirmed_at = now
        try:
            subscriber.save(
                update_fields=["email", "status", "confirmed_at", "unsubscribed_at", "updated_at"]
            )
        except IntegrityError as error:  # the address was taken between the check and the save
            raise ValidationError({"email": ["That address is already on the list."]}) from error
    return subscriber


def subscriber_unsubscribe(
    *, subscriber_id: int, campaign_id: int | None = None, now: datetime | None = None
) -> Subscriber:
    """At once and for good (until they subscribe again); counted against the issue it came from."""
    now = now or timezone.now()
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(pk=subscriber_id).first()
        if subscriber is None:
            raise NotFound("This link is invalid.")
        if subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
            subscriber.status = SubscriberStatus.UNSUBSCRIBED
            subscriber.unsubscribed_at = now
            subscriber.save(update_fields=["status", "unsubscribed_at", "updated_at"])
            if campaign_id is not None:
                Delivery.objects.filter(
                    campaign_id=campaign_id, subscriber_id=subscriber_id, unsubscribed_at__isnull=True
                ).update(unsubscribed_at=now)
    return subscriber


def subscriber_resubscribe(*, subscriber_id: int, now: datetime | None = None) -> Subscriber:
    """From the preferences page (a link we mailed to this address): an address confirmed before comes
    back at once; one never confirmed is asked to confirm."""
    now = now or timezone.now()
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().filter(pk=subscriber_id).first()
        if subscriber is None:
            raise NotFound("This link is invalid.")
        if subscriber.status == SubscriberStatus.UNSUBSCRIBED and subscriber.confirmed_at is not None:
            subscriber.status = SubscriberStatus.ACTIVE
            subscriber.unsubscribed_at = None
            subscriber.save(update_fields=["status", "unsubscribed_at", "updated_at"])
        elif subscriber.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.PENDING):
            Subscriber.objects.filter(pk=subscriber.pk).update(status=SubscriberStatus.PENDING)
            subscriber.status = SubscriberStatus.PENDING
            _send_confirmation(subscriber, email=subscriber.email)
    return subscriber


def subscriber_change_email(*, subscriber_id: int, email: str) -> Subscriber:
    """Mails a confirmation to the new address; the subscription moves once that is confirmed."""
    new_email = normalise_email(email)
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        raise NotFound("This link is invalid.")
    if new_email != subscriber.email and subscriber.status not in BLOCKED_STATUSES:
        _send_confirmation(subscriber, email=new_email, change=True)
    return subscriber


def subscriber_set_for_account(*, user, subscribed: bool, now: datetime | None = None) -> Subscriber | None:
    """The account settings' toggle. A verified account email needs no second confirmation."""
    from allauth.account.models import EmailAddress

    now = now or timezone.now()
    email = user.email.lower()
    existing = selectors.subscriber_for_user(user)
    if not subscribed:
        if existing is not None:
            return subscriber_unsubscribe(subscriber_id=existing.pk, now=now)
        return None
    verified = EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()
    with transaction.atomic():
        subscriber = existing or _get_or_create(email=email, source=SubscriberSource.ACCOUNT, user=user)
        if subscriber.user_id is None:
            subscriber.user = user
            subscriber.save(update_fields=["user", "updated_at"])
        if subscriber.status in BLOCKED_STATUSES or subscriber.status == SubscriberStatus.ACTIVE:
            return subscriber
        if verified and subscriber.email == email:
            _suppression_lift(email)  # the verified owner of the address asked, from their own account
            subscriber.status = SubscriberStatus.ACTIVE
            subscriber.confirmed_at = subscriber.confirmed_at or now
            subscriber.unsubscribed_at = None
            subscriber.save(update_fields=["status", "confirmed_at", "unsubscribed_at", "updated_at"])
        else:
            Subscriber.objects.filter(pk=subscriber.pk).update(status=SubscriberStatus.PENDING)
            subscriber.status = SubscriberStatus.PENDING
            _send_confirmation(subscriber, email=subscriber.email)
    return subscriber


def subscriber_mark_undeliverable(
    *, email: str = "", delivery_id: int | None = None, complained: bool, now: datetime | None = None
) -> Subscriber | None:
    """A bounce or complaint from the provider's webhook: the delivery (when known) and the subscriber
    are marked, and the address is never mailed again."""
    now = now or timezone.now()
    status = SubscriberStatus.COMPLAINED if complained else SubscriberStatus.BOUNCED
    with transaction.atomic():
        delivery = Delivery.objects.filter(pk=delivery_id).first() if delivery_id else None
        if delivery is not None:
            if complained:
                Delivery.objects.filter(pk=delivery.pk).update(complained_at=now)
            else:
                Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.BOUNCED, bounced_at=now)
            subscriber = Subscriber.objects.filter(pk=delivery.subscriber_id).first()
        else:
            subscriber = Subscriber.objects.filter(email=email.strip().lower()).first() if email else None
        if subscriber is None:
            return None
        # A complaint outranks a bounce; neither is undone by the other.
        if subscriber.status != SubscriberStatus.COMPLAINED and subscriber.status != status:
            Subscriber.objects.filter(pk=subscriber.pk).update(status=status, bounced_at=now, updated_at=now)
            subscriber.status = status
    return subscriber


def subscribers_set_status(
    *, actor, subscriber_ids: list[int], status: str, now: datetime | None = None
) -> int:
    """Staff, from the admin: unsubscribe, or reactivate an address (e.g. a bounce that was a mistake)."""
    require(actor, "content.manage_subscribers")
    now = now or timezone.now()
    rows = Subscriber.objects.filter(pk__in=subscriber_ids)
    if status == SubscriberStatus.UNSUBSCRIBED:
        return rows.exclude(status=status).update(status=status, unsubscribed_at=now, updated_at=now)
    if status == SubscriberStatus.ACTIVE:
        return rows.exclude(status=status).update(
            status=status, confirmed_at=now, unsubscribed_at=None, bounced_at=None, updated_at=now
        )
    raise ValidationError({"status": ["Staff may set active or unsubscribed."]})


def subscribers_delete(*, actor, subscriber_ids: list[int]) -> int:
    """Erases addresses for good (a removal request), with their delivery history."""
    require(actor, "content.manage_subscribers")
    deleted, _ = Subscriber.objects.filter(pk__in=subscriber_ids).delete()
    return deleted


def _get_or_create(*, email: str, source: str, user=None) -> Subscriber:
    subscriber = Subscriber.objects.select_for_update().filter(email=email).first()
    if subscriber is None:
        _suppression_check(email, source)
    if subscriber is not None:
        if user is not None and subscriber.user_id is None and user.email.lower() == email:
            Subscriber.objects.filter(pk=subscriber.pk).update(user=user)
            subscriber.user = user
        return subscriber
    linked_user = user if user is not None and user.email.lower() == email else None
    if linked_user is not None and Subscriber.objects.filter(user=linked_user).exists():
        linked_user = None
    try:
        with transaction.atomic():
            return Subscriber.objects.create(email=email, source=source, user=linked_user)
    except IntegrityError:  # subscribed twice at once: the other request made the row
        return Subscriber.objects.select_for_update().get(email=email)


def _send_confirmation(subscriber: Subscriber, *, email: str, change: bool = False) -> None:
    if not ratelimits.rate_limit_allows("newsletter.confirmation", email):
        logger.info("Newsletter confirmation for subscriber %s not sent again: limit reached.", subscriber.pk)
        return
    token = tokens.confirm_token(subscriber_id=subscriber.pk, email=email)
    context = {
        "confirm_url": settings.SITE_URL + reverse("newsletter_confirm", args=[token]),
        "change": change,
    }
    message = templated_email(
        subject=render_to_string("content/newsletter/email/confirm_subject.txt").strip(),
        template="content/newsletter/email/confirm",
        context=context,
        to=[email],
    )
    message.from_email = settings.NEWSLETTER_FROM_EMAIL
    email_enqueue(message, kind="newsletter.confirm")


def _send_already_subscribed(subscriber: Subscriber) -> None:
    if not ratelimits.rate_limit_allows("newsletter.confirmation", subscriber.email):
        return
    _, preferences_url = messages.manage_urls(subscriber_id=subscriber.pk, campaign_id=None)
    message = templated_email(
        subject="You already get the Agentwise newsletter",
        template="content/newsletter/email/already",
        context={"preferences_url": preferences_url},
        to=[subscriber.email],
    )
    message.from_email = settings.NEWSLETTER_FROM_EMAIL
    email_enqueue(message, kind="newsletter.already_subscribed")


# --- Campaigns ----------------------------------------------------------------------------------------

CAMPAIGN_FIELDS = {
    "subject",
    "preheader",
    "content",
    "blog_post",
    "audience",
    "audience_tier",
    "scheduled_at",
}
EDITABLE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


def campaign_check(*, campaign: Campaign | None, fields: dict) -> dict:
    """Validates a draft's fields (errors keyed by field) and returns them cleaned. A subject alone is a
    valid draft; whether it can be *sent* is ``campaign_check_sendable``."""
    from billing.plans import SubscriptionTier

    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    if campaign is not None and campaign.status not in EDITABLE_STATUSES:
        raise ValidationError(
            {"status": [f"A {campaign.get_status_display().lower()} campaign can no longer be edited."]}
        )
    if "subject" in fields:
        subject = str(fields["subject"] or "").strip()
        if not subject:
            errors["subject"] = ["A campaign needs a subject."]
        cleaned["subject"] = subject
    if "content" in fields:
        try:
            cleaned["content"] = clean_blocks(fields["content"] or [])
        except ValidationError as error:
            errors["content"] = error.messages
    audience = fields.get("audience", campaign.audience if campaign else CampaignAudience.ALL)
    tier = fields.get("audience_tier", campaign.audience_tier if campaign else "")
    if audience == CampaignAudience.TIER and tier not in SubscriptionTier.values:
        errors["audience_tier"] = [f"Choose a plan: {', '.join(SubscriptionTier.values)}."]
    if audience == CampaignAudience.ALL and "audience_tier" in fields:
        cleaned["audience_tier"] = ""
    if errors:
        raise ValidationError(errors)
    return cleaned


def campaign_check_sendable(campaign: Campaign) -> None:
    errors = {}
    post: BlogPost | None = campaign.blog_post
    if post is not None:
        if (
            post.status != PublicationStatus.PUBLISHED
            or post.published_at is None
            or post.published_at > timezone.now()
        ):
            errors["blog_post"] = ["The blog post is not published yet: publish it before sending it."]
    elif not campaign.content:
        errors["content"] = ["Write the campaign's body, or choose a blog post to send."]
    if errors:
        raise ValidationError(errors)


def campaign_create(*, actor, fields: dict) -> Campaign:
    require(actor, "content.manage_campaign")
    cleaned = campaign_check(campaign=None, fields=fields)
    return Campaign.objects.create(created_by=actor if actor.is_authenticated else None, **cleaned)


def campaign_update(*, actor, campaign: Campaign, fields: dict) -> Campaign:
    require(actor, "content.manage_campaign")
    cleaned = campaign_check(campaign=campaign, fields=fields)
    for name, value in cleaned.items():
        setattr(campaign, name, value)
    campaign.save()
    return campaign


def campaign_schedule(*, actor, campaign: Campaign, at: datetime, now: datetime | None = None) -> Campaign:
    """Sends at ``at`` (the beat task starts it within a minute of it)."""
    require(actor, "content.manage_campaign")
    now = now or timezone.now()
    if at is None or at <= now:
        raise ValidationError({"scheduled_at": ["Choose a time in the future."]})
    campaign_check_sendable(campaign)
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=EDITABLE_STATUSES).update(
        status=CampaignStatus.SCHEDULED, scheduled_at=at
    )
    if not updated:
        raise ValidationError({"status": ["Only a draft or scheduled campaign can be scheduled."]})
    campaign.refresh_from_db()
    return campaign


def campaign_cancel(*, actor, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Stops it: senders check between claims, so at most one claim's worth more goes out."""
    require(actor, "content.manage_campaign")
    now = now or timezone.now()
    updated = Campaign.objects.filter(
        pk=campaign.pk,
        status__in=[
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.SENDING,
            CampaignStatus.PAUSED,
        ],
    ).update(status=CampaignStatus.CANCELLED, finished_at=now)
    if not updated:
        raise ValidationError({"status": ["A sent or cancelled campaign cannot be cancelled."]})
    campaign.refresh_from_db()
    return campaign


def campaign_send_test(*, actor, campaign: Campaign) -> None:
    """One copy to the staff member asking, through the outbox; it counts nowhere."""
    require(actor, "content.manage_campaign")
    campaign_check_sendable(campaign)
    subscriber = Subscriber.objects.filter(email=actor.email.lower()).first()
    message = messages.compose(
        messages.campaign_body(campaign),
        campaign_id=campaign.pk,
        email=actor.email,
        name=messages.greeting_name(subscriber) if subscriber else actor.username,
        subscriber_id=None,
        test=True,
    )
    message.alternatives = [(str(content), mimetype) for content, mimetype in message.alternatives]
    email_enqueue(message, kind="newsletter.test")
