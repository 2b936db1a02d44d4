"""Reads for accounts."""

from django.db.models import QuerySet

from agentwise.access import get_visible

from .models import ApiKey, Notification, Profile, User


def profile_get_public(*, username: str) -> Profile:
    """The active user's profile for a handle, matched case-insensitively. Raises NotFound."""
    return get_visible(Profile.objects.select_related("user"), user__username__iexact=username, user__is_active=True)


def profile_get_own(*, user: User) -> Profile:
    return Profile.objects.select_related("user").get(user=user)


def api_key_list_for(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at")


def notification_unread_count(*, user: User) -> int:
    """The navigation's badge: one COUNT on the user's notifications index."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_list_for(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at")
