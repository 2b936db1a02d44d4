"""Reads for accounts."""

from django.db.models import QuerySet

from agentwise.access import get_visible

from .models import ApiKey, Notification, NotificationPreference, Profile, User, UserMute
from .notification_kinds import KINDS, Delivery


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


def notification_deliveries(*, user: User) -> dict[str, str]:
    """Every kind's delivery for ``user``: their stored choice, else the kind's default (one query)."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "delivery"))
    return {
        key: str(chosen.get(key, kind.default) if kind.configurable else kind.default) for key, kind in KINDS.items()
    }


def notification_digest_kinds(*, user: User) -> list[str]:
    """The kinds ``user`` wants in the daily digest."""
    return [kind for kind, delivery in notification_deliveries(user=user).items() if delivery == Delivery.DIGEST]


def mute_list_for(*, user: User) -> QuerySet[UserMute]:
    """The users ``user`` muted, newest first, with what the list shows loaded."""
    return UserMute.objects.filter(user=user).select_related("muted", "muted__profile").order_by("-created_at", "pk")


def user_has_muted(*, user: User, muted: User) -> bool:
    return user.is_authenticated and UserMute.objects.filter(user=user, muted=muted).exists()


def muter_ids(*, actor: User, among) -> set:
    """Which of the users ``among`` (ids) muted ``actor``: one indexed query."""
    return set(UserMute.objects.filter(muted=actor, user_id__in=list(among)).values_list("user_id", flat=True))
