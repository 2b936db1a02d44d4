"""Bot detection's receivers: failed sign-ins count against the address; allow-list changes drop the
cached allow list (cache invalidation only, no business logic)."""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_delete, post_save

from . import bots
from .models import AllowListEntry


def _login_failed(sender, credentials=None, request=None, **kwargs):
    bots.note(request, "failed_sign_ins")


def _allow_list_changed(sender, **kwargs):
    bots.allow_list_changed()


def connect() -> None:
    user_login_failed.connect(_login_failed, dispatch_uid="moderation.bots.login_failed")
    post_save.connect(_allow_list_changed, sender=AllowListEntry, dispatch_uid="moderation.bots.allow_saved")
    post_delete.connect(_allow_list_changed, sender=AllowListEntry, dispatch_uid="moderation.bots.allow_deleted")
