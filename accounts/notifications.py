"""Sending in-app notifications: saved, then pushed and emailed only after the transaction commits."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .events import user_group_name
from .models import Notification, User


def notification_send(
    *, user: User, kind: str, title: str, body: str = "", url: str = "", data: dict | None = None, email: bool = False
) -> Notification:
    notification = Notification.objects.create(user=user, kind=kind, title=title, body=body, url=url, data=data or {})

    def after_commit():
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(
                user_group_name(user.pk), {"type": "notification", "payload": {"notification": notification.as_event()}}
            )
        if email:
            from .tasks import send_notification_email_task

            send_notification_email_task.delay(str(notification.pk))

    transaction.on_commit(after_commit)
    return notification
