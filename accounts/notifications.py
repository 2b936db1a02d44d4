"""Sending in-app notifications: saved with their email (in the outbox), pushed only after the commit."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agentwise.mail import email_enqueue, templated_email

from .events import user_group_name
from .models import Notification, User


@transaction.atomic
def notification_send(
    *, user: User, kind: str, title: str, body: str = "", url: str = "", data: dict | None = None, email: bool = False
) -> Notification:
    notification = Notification.objects.create(user=user, kind=kind, title=title, body=body, url=url, data=data or {})
    if email:
        notification_email_enqueue(notification=notification)

    def after_commit():
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(
                user_group_name(user.pk), {"type": "notification", "payload": {"notification": notification.as_event()}}
            )

    transaction.on_commit(after_commit)
    return notification


@transaction.atomic
def notification_email_enqueue(*, notification: Notification) -> bool:
    """Queues a notification's email once: ``emailed_at`` is claimed in the same transaction as the outbox
    row, so it means "handed to the outbox" (delivery is tracked there). False if it already was."""
    claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return False
    context = {"notification": notification, "user": notification.user, "site_url": settings.SITE_URL}
    message = templated_email(
        subject=notification.title, template="accounts/email/notification", context=context, to=[notification.user.email]
    )
    email_enqueue(message, kind="accounts/email/notification")
    return True
