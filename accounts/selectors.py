"""Reads for accounts."""

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet
from django.utils import timezone

from agentwise.access import get_visible
from agentwise.errors import NotFound, Refusal

from .models import (
    ApiKey,
    DataExport,
    DataExportStatus,
    Notification,
    NotificationPreference,
    Profile,
    User,
    UserMute,
)
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


def data_export_latest(*, user: User) -> DataExport | None:
    """The member's most recent export request, whatever its state."""
    return DataExport.objects.filter(user=user).order_by("-requested_at").first()


class LinkExpired(Refusal):
    status_code = 410
    code = "link_expired"
    default_message = "This download link has expired. Request a new export of your data from your account."


def data_export_get_for_download(*, user: User, token: str) -> DataExport:
    """The ready export a download link names, for its own user only.

    NotFound for a forged token or someone else's export (staff included: existence does not leak);
    410 ``link_expired`` to the owner once the link is older than DATA_EXPORT_LINK_DAYS or the file is gone.
    """
    from .services import DATA_EXPORT_SALT

    signer = signing.TimestampSigner(salt=DATA_EXPORT_SALT)
    expired = False
    try:
        export_id = signer.unsign(token, max_age=settings.DATA_EXPORT_LINK_DAYS * 86400)
    except signing.SignatureExpired:
        export_id, expired = signer.unsign(token), True
    except signing.BadSignature:
        raise NotFound() from None
    mine = DataExport.objects.filter(user=user) if user.is_authenticated else DataExport.objects.none()
    export = get_visible(mine, pk=export_id)
    if expired or export.status == DataExportStatus.EXPIRED or (
        export.expires_at is not None and export.expires_at <= timezone.now()
    ):
        raise LinkExpired()
    if export.status != DataExportStatus.READY or not export.file_path:
        raise NotFound()
    return export
