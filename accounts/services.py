"""Writes for accounts: profiles and personal API keys."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import tempfile
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from agentwise.access import can, require
from agentwise.errors import Forbidden, Refusal
from agentwise.integrity import unique_error
from agentwise.ratelimits import rate_limit_hit
from billing.plans import SubscriptionTier
from moderation.audit import audit_record
from moderation.gate import flag_after_save, screen_text

from . import events
from .credentials import CONSOLE, Credential, reauthentication_refusal
from .models import ApiKey, Notification, NotificationPreference, Profile, User, UserMute
from .notification_kinds import CHOOSABLE, KINDS
from .selectors import notification_deliveries

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "aw_"
MAX_ACTIVE_KEYS_PER_USER = 25
LAST_USED_RESOLUTION = timedelta(seconds=60)

PROFILE_FIELDS = (
    "full_name",
    "avatar_url",
    "bio",
    "company",
    "location",
    "website",
    "github_username",
    "twitter_handle",
)

# What others read of a profile, through the content rules (``moderation.gate.screen_text``).
SCREENED_PROFILE_FIELDS = ("username", "full_name", "bio", "company", "location")


class ApiKeyRejected(Exception):
    """The presented key is unknown, revoked or expired, or its user is suspended; ``reason`` says which
    (``message``, when given, is what the caller is told)."""

    def __init__(self, reason: str, message: str = ""):
        self.reason = reason
        self.message = message
        super().__init__(reason)


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is safe and keeps lookups to one indexed query.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def profile_update(*, actor: User, profile: Profile, data: dict) -> Profile:
    """Updates the handle and public profile fields. Raises Forbidden for anyone but the owner."""
    if not can(actor, "accounts.moderate_profile", profile):  # staff clear a reported profile's text
        require(actor, "accounts.change_profile", profile, message="You can only change your own profile.")
    user = profile.user
    data = dict(data)
    flags = []
    for field in SCREENED_PROFILE_FIELDS:  # the content rules: refuse, mask or flag (never hide a profile)
        if isinstance(data.get(field), str) and data[field] != getattr(user if field == "username" else profile, field):
            screened = screen_text(actor=actor, text=data[field], field=field,
                                   surface="username" if field == "username" else "profile")
            data[field] = screened.text
            flags.append(screened)
    if "username" in data and data["username"] != user.username:
        if User.objects.filter(username__iexact=data["username"]).exclude(pk=user.pk).exists():
            raise unique_error(User, "accounts_user_username_ci_unique")
        user.username = data["username"]
        user.full_clean(exclude=["password", "email"], validate_constraints=False)
        user.save(update_fields=["username"])
    changed = []
    for field in PROFILE_FIELDS + ("avatar",):
        if field in data:
            setattr(profile, field, data[field] if data[field] is not None else "")
            changed.append(field)
    if changed:
        profile.full_clean(exclude=["user"])
        profile.save(update_fields=[*changed, "updated_at"])
    for screened in flags:
        flag_after_save(screened=screened, content_type="profile", content_id=user.pk, author=user)
    return profile


def profile_fill_from_provider(*, user: User, provider: str, extra_data: dict) -> Profile:
    """Fills empty profile fields from an OAuth provider's account data; never overwrites user edits."""
    profile = user.profile
    if provider == "github":
        values = {
            "full_name": extra_data.get("name") or "",
            "avatar_url": extra_data.get("avatar_url") or "",
            "github_username": extra_data.get("login") or "",
            "company": (extra_data.get("company") or "").lstrip("@"),
            "location": extra_data.get("location") or "",
            "bio": extra_data.get("bio") or "",
            "website": extra_data.get("blog") or "",
            "twitter_handle": extra_data.get("twitter_username") or "",
        }
    elif provider == "google":
        values = {"full_name": extra_data.get("name") or "", "avatar_url": extra_data.get("picture") or ""}
    else:
        values = {}
    changed, flags = [], []
    for field, value in values.items():
        if not value or getattr(profile, field):
            continue
        model_field = Profile._meta.get_field(field)
        try:
            cleaned = model_field.clean(str(value)[: model_field.max_length or None], profile)
            if field in SCREENED_PROFILE_FIELDS:  # the content rules, as for the profile form
                screened = screen_text(actor=user, text=cleaned, field=field, surface="profile")
                cleaned = screened.text
                flags.append(screened)
        except ValidationError:
            continue  # a provider value we cannot use (or a rule refuses) is skipped, not fatal
        setattr(profile, field, cleaned)
        changed.append(field)
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])
    for screened in flags:
        flag_after_save(screened=screened, content_type="profile", content_id=user.pk, author=user)
    return profile


def api_key_create(
    *, user: User, credential: Credential, name: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Creates a key and returns it with its secret, which is never stored or shown again.

    Only from a browser session signed in (or re-authenticated) within the last few minutes, or the
    server console: a stolen session cookie alone, or a leaked key, cannot mint a lasting credential.
    The owner is emailed, so a key they did not create does not go unnoticed.
    """
    require(user, "accounts.add_apikey", credential,
            message="API keys can only be created from a signed-in session, not with another key.")
    if not can(user, "accounts.add_apikey_now", credential):
        raise reauthentication_refusal("Confirm it is you: sign in again to create an API key.", then="account_api_keys")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if credential.kind != CONSOLE:  # the operator at the server console is not throttled
        rate_limit_hit("accounts.api_key", user.pk)
    with transaction.atomic():
        # Lock the user's row so concurrent creations cannot both pass the limit check.
        User.objects.select_for_update().filter(pk=user.pk).first()
        active = ApiKey.objects.filter(user=user, revoked_at__isnull=True).exclude(expires_at__lte=timezone.now())
        if active.count() >= MAX_ACTIVE_KEYS_PER_USER:
            raise ValidationError(
                {"name": f"You already have {MAX_ACTIVE_KEYS_PER_USER} active keys; revoke one first."}
            )
        raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        api_key = ApiKey.objects.create(
            user=user,
            name=name.strip() or "API key",
            prefix=raw_key[:11],
            key_hash=hash_api_key(raw_key),
            expires_at=expires_at,
        )
        audit_record("api_key.create", actor=user, resource=api_key, metadata={
            "name": api_key.name, "prefix": api_key.prefix, "expires_at": expires_at, "via": credential.kind,
        })
        if credential.kind != CONSOLE:
            _api_key_created_notice(api_key)
    return api_key, raw_key


def _api_key_created_notice(api_key: ApiKey) -> None:
    from .notifications import notification_send

    notification_send(
        user=api_key.user,
        kind="api_key_created",
        title="A new API key was created",
        body=(
            f"The key “{api_key.name}” ({api_key.prefix}…) was created on your account. "
            "If this was not you, revoke it and change your password."
        ),
        url=reverse("account_api_keys"),
        data={"api_key_id": str(api_key.pk), "prefix": api_key.prefix},
        email=True,
    )


def api_key_revoke(*, actor: User, api_key: ApiKey) -> ApiKey:
    """Revokes a key at once: later requests with it get 401, and sockets it opened close with 4401.
    Revoking twice is harmless."""
    require(actor, "accounts.delete_apikey", api_key, hidden_unless="accounts.delete_apikey",
            message="You can only revoke your own keys.")
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        api_key.refresh_from_db(fields=["revoked_at"])
        if revoked:
            audit_record("api_key.revoke", actor=actor, resource=api_key, metadata={
                "name": api_key.name, "prefix": api_key.prefix, "owner_id": api_key.user_id,
            })
            events.credential_ended(credential=Credential.for_api_key(api_key))
    return api_key


def user_access_update(*, actor: User, user: User, is_active: bool | None = None, is_staff: bool | None = None) -> User:
    """Deactivates or reactivates an account, or grants or removes staff status (admin actions).

    Losing either ends access everywhere at once: sessions and API keys stop working on their next
    request, and every open socket of the user closes with 4401.
    """
    require(actor, "accounts.manage_user_access", user, message="Only staff change account access.")
    if user.pk == actor.pk and (is_active is False or is_staff is False):
        raise ValidationError({"user": "You cannot remove your own access."})
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        changed = {}
        for field, value in (("is_active", is_active), ("is_staff", is_staff)):
            if value is not None and getattr(locked, field) != value:
                changed[field] = {"old": getattr(locked, field), "new": value}
                setattr(locked, field, value)
        if changed:
            locked.save(update_fields=list(changed))
            audit_record("user.access_update", actor=actor, resource=locked, metadata=changed)
            events.access_changed(user_id=locked.pk)
    return locked


@transaction.atomic
def profile_plan_change(*, actor: User, profile: Profile, tier: str) -> Profile:
    """Staff move an account to another plan (the admin's profile forms); audited with the old and new
    plan. Changing to the same plan does nothing."""
    require(actor, "accounts.change_plan", profile, message="Only staff change an account's plan.")
    if tier not in SubscriptionTier.values:
        raise ValidationError({"subscription_tier": f"One of {', '.join(SubscriptionTier.values)}."})
    locked = Profile.objects.select_for_update().get(pk=profile.pk)
    old = locked.subscription_tier
    if tier != old:
        locked.subscription_tier = tier
        locked.save(update_fields=["subscription_tier", "updated_at"])
        audit_record("plan.change", actor=actor, resource=locked, metadata={"user_id": locked.user_id, "old": old, "new": tier})
    profile.subscription_tier = locked.subscription_tier
    return locked


def session_ended(*, user_id, session_key: str) -> None:
    """A session was signed out or ended remotely: the sockets it opened close with 4401."""
    from .credentials import SESSION

    if session_key:
        events.credential_ended(credential=Credential(kind=SESSION, id=session_key))


def session_rotated(*, old_key: str, new_key: str) -> None:
    """A session lives on under a new key (Django cycles it when the password changes): the sockets it
    opened move to the new key. Announced to the old key's group only, so only they can move."""
    from .credentials import SESSION

    events.credential_moved(credential=Credential(kind=SESSION, id=old_key), new_id=new_key)


def sessions_invalidated(*, user_id) -> None:
    """The password changed or was reset: every session but the one that changed it is invalid now
    (Django's session hash), so each of the user's sockets decides again and the stale ones close."""
    events.access_changed(user_id=user_id)


def api_key_authenticate(raw_key: str) -> ApiKey:
    """Returns the active key for a presented secret (user loaded) or raises ApiKeyRejected."""
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) > 128:
        raise ApiKeyRejected("unknown")
    from moderation.sanctions import suspension_exists, suspension_for, suspension_message

    try:
        # Whether the user is suspended comes with the key, in the same query.
        api_key = ApiKey.objects.select_related("user").annotate(user_suspended=suspension_exists("user_id")).get(
            key_hash=hash_api_key(raw_key)
        )
    except ApiKey.DoesNotExist:
        raise ApiKeyRejected("unknown") from None
    if api_key.revoked_at is not None:
        raise ApiKeyRejected("revoked")
    if api_key.is_expired:
        raise ApiKeyRejected("expired")
    if not api_key.user.is_active:
        raise ApiKeyRejected("inactive_user")
    if api_key.user_suspended:
        suspension = suspension_for(api_key.user_id)
        raise ApiKeyRejected("suspended", suspension_message(suspension) if suspension else "")
    _api_key_touch(api_key)
    return api_key


def _api_key_touch(api_key: ApiKey) -> None:
    """Records use at most once a minute per key, so a busy CLI does not write on every request."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


def notifications_mark_read(*, user: User, notification_ids: list | None = None) -> int:
    """Marks the user's unread notifications read: all of them, or only ``notification_ids`` (ids of
    someone else's notifications simply match nothing)."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    return unread.update(read_at=timezone.now())


def notification_preferences_set(*, user: User, choices: dict) -> dict[str, str]:
    """Saves ``{kind: delivery}`` choices (kinds not named keep theirs) and returns every kind's delivery.

    Raises ValidationError naming each bad kind: an unknown kind, a delivery other than ``in_app`` or
    ``digest``, or a change to a notice that is always emailed at once (it may be given as ``immediate``,
    so what GET returns can be PUT back).
    """
    errors, rows = {}, []
    for kind, delivery in choices.items():
        spec = KINDS.get(kind)
        if spec is None:
            errors[kind] = "Unknown notification kind."
        elif not spec.configurable:
            if delivery != spec.default:
                errors[kind] = "This notice is always emailed at once; it cannot be changed."
        elif delivery not in CHOOSABLE:
            errors[kind] = f"One of {', '.join(CHOOSABLE)}."
        else:
            rows.append(NotificationPreference(user=user, kind=kind, delivery=delivery))
    if errors:
        raise ValidationError(errors)
    NotificationPreference.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["user", "kind"], update_fields=["delivery", "updated_at"]
    )
    return notification_deliveries(user=user)


def user_mute(*, actor: User, muted: User) -> UserMute:
    """``actor`` stops hearing from ``muted``. Muting twice is harmless; muting yourself is refused."""
    if muted.pk == actor.pk:
        raise ValidationError({"username": "You cannot mute yourself."})
    try:
        with transaction.atomic():
            mute, _ = UserMute.objects.get_or_create(user=actor, muted=muted)
    except IntegrityError:  # a concurrent mute of the same pair won
        mute = UserMute.objects.get(user=actor, muted=muted)
    return mute


def user_unmute(*, actor: User, muted: User) -> bool:
    """Ends a mute; True if there was one."""
    deleted, _ = UserMute.objects.filter(user=actor, muted=muted).delete()
    return bool(deleted)


# --- "Your data": exports (docs/privacy.md) -------------------------------------------------------

DATA_EXPORT_SALT = "accounts.data_export"
# A build that has been "running" this long lost its worker: the sweeper hands it to another.
DATA_EXPORT_STALE_AFTER = timedelta(hours=1)
DATA_EXPORT_PENDING_GRACE = timedelta(minutes=10)  # a pending build's own task is normally on its way
DATA_EXPORT_ERROR_MAX_CHARS = 2000


def data_export_path(export) -> str:
    """Where the zip lives in the default storage: outside every public prefix (``agentwise.views.media``)."""
    return f"exports/{export.user_id}/{export.pk}.zip"


def data_export_token(export) -> str:
    """The download link's token: the export's id, signed with a timestamp (valid DATA_EXPORT_LINK_DAYS)."""
    return signing.TimestampSigner(salt=DATA_EXPORT_SALT).sign(str(export.pk))


def data_export_download_url(export) -> str | None:
    """The signed download link while the export is ready (not before, not once expired); else None."""
    from .models import DataExportStatus

    if export is None or export.state != DataExportStatus.READY:
        return None
    return settings.SITE_URL + reverse("account_export_download", args=[data_export_token(export)])


def data_export_next_allowed_at(*, user: User, now: datetime | None = None) -> datetime | None:
    """When ``user`` may request their next export; None when they may now. A failed build does not count."""
    from .models import DataExport, DataExportStatus

    now = now or timezone.now()
    last = (DataExport.objects.filter(user=user).exclude(status=DataExportStatus.FAILED)
            .order_by("-requested_at").values_list("requested_at", flat=True).first())
    if last is None:
        return None
    allowed_at = last + timedelta(hours=settings.DATA_EXPORT_INTERVAL_HOURS)
    return allowed_at if allowed_at > now else None


def data_export_request(*, user: User, credential: Credential | None):
    """Queues an export of everything ``user`` holds; the worker builds it and emails a signed link.

    Refuses with 403 ``session_required`` for anything but a signed-in browser session (an API key),
    and with 429 ``rate_limited`` (``retry_after``, ``Retry-After``) within DATA_EXPORT_INTERVAL_HOURS
    of the previous request, which rules out a second build running at once as well.
    """
    from .export import SECTION_COUNT
    from .models import DataExport
    from .tasks import data_export_build_task

    if not can(user, "accounts.request_data_export", credential):
        raise Forbidden(
            "An export of your data can only be requested from a signed-in browser session, not with an API key.",
            code="session_required",
        )
    now = timezone.now()
    with transaction.atomic():
        # Lock the user's row so two requests at once cannot both pass the once-a-day check.
        User.objects.select_for_update().filter(pk=user.pk).first()
        allowed_at = data_export_next_allowed_at(user=user, now=now)
        if allowed_at is not None:
            retry_after = max(1, math.ceil((allowed_at - now).total_seconds()))
            raise Refusal(
                f"You can request one export a day; the next one from {allowed_at:%Y-%m-%d %H:%M} UTC.",
                status_code=429, code="rate_limited",
                extra={"retry_after": retry_after, "limit": "accounts.data_export", "next_allowed_at": allowed_at.isoformat()},
                headers={"Retry-After": str(retry_after)},
            )
        export = DataExport.objects.create(user=user, requested_at=now, sections_total=SECTION_COUNT)
        audit_record("data_export.request", actor=user, resource=export, metadata={"via": credential.kind})
        transaction.on_commit(lambda: _data_export_schedule(export.pk, data_export_build_task))
    return export


def _data_export_schedule(export_id, task) -> None:
    """An unreachable broker is logged, never raised: the row is saved and the sweeper schedules it later."""
    try:
        task.delay(str(export_id))
    except Exception:  # noqa: BLE001 (kombu/redis connection errors)
        logger.exception("Could not hand data export %s to the worker; the sweeper will pick it up.", export_id)


def data_export_build(*, export_id, now: datetime | None = None):
    """Builds the zip of a pending export, stores it and emails the link; None when there was nothing to do.

    Safe to run twice or on two workers at once: a conditional UPDATE claims the row (a build that ran
    longer than DATA_EXPORT_STALE_AFTER lost its worker and may be claimed again), and only the claim
    still holding at the end records the file. A failure is recorded on the row (the page shows it)
    and the member may ask again at once.
    """
    from django.core.files import File
    from django.core.files.storage import default_storage

    from .export import SECTION_COUNT, export_write
    from .models import DataExport, DataExportStatus

    now = now or timezone.now()
    claimed = DataExport.objects.filter(pk=export_id).filter(
        Q(status=DataExportStatus.PENDING) | Q(status=DataExportStatus.RUNNING, started_at__lt=now - DATA_EXPORT_STALE_AFTER)
    ).update(status=DataExportStatus.RUNNING, started_at=now, sections_done=0, rows_written=0,
             sections_total=SECTION_COUNT, error="")
    if not claimed:
        return None
    export = DataExport.objects.select_related("user", "user__profile").get(pk=export_id)
    mine = DataExport.objects.filter(pk=export.pk, status=DataExportStatus.RUNNING, started_at=now)

    def progress(sections: int, rows: int) -> None:
        mine.update(sections_done=sections, rows_written=rows)

    stored = ""
    try:
        with tempfile.TemporaryFile(suffix=".zip") as spool:
            rows = export_write(user=export.user, target=spool, exported_at=now, progress=progress)
            size = spool.tell()
            spool.seek(0)
            stored = default_storage.save(data_export_path(export), File(spool, name="export.zip"))
        finished = timezone.now()
        with transaction.atomic():
            recorded = mine.update(
                status=DataExportStatus.READY, finished_at=finished, file_path=stored, file_size=size,
                rows_written=rows, sections_done=SECTION_COUNT,
                expires_at=finished + timedelta(days=settings.DATA_EXPORT_LINK_DAYS),
            )
            if recorded:
                export.refresh_from_db()
                _data_export_ready_email(export)
    except Exception as error:  # noqa: BLE001 (any fault while building: recorded, shown, retryable)
        logger.exception("Data export %s failed.", export_id)
        if stored:
            default_storage.delete(stored)
        mine.update(status=DataExportStatus.FAILED, finished_at=timezone.now(),
                    error=f"{type(error).__name__}: {error}"[:DATA_EXPORT_ERROR_MAX_CHARS])
        return DataExport.objects.get(pk=export_id)
    if not recorded:  # our claim was taken over meanwhile: the other build records its own file
        default_storage.delete(stored)
    return export


def _data_export_ready_email(export) -> None:
    from agentwise.mail import email_enqueue, templated_email

    message = templated_email(
        subject="Your Agentwise data export is ready",
        template="accounts/email/data_export_ready",
        context={
            "user": export.user, "export": export, "download_url": data_export_download_url(export),
            "page_url": settings.SITE_URL + reverse("account_export"), "days": settings.DATA_EXPORT_LINK_DAYS,
        },
        to=[export.user.email],
    )
    email_enqueue(message, kind="accounts/email/data_export_ready")


def data_exports_tidy(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Beat: removes the files of exports whose link expired (the row stays, marked ``expired``) and
    hands pending builds whose task was lost, or running ones whose worker died, to a worker again.
    Safe to run twice: deleting a missing file is harmless and a build is claimed once."""
    from django.core.files.storage import default_storage

    from .models import DataExport, DataExportStatus
    from .tasks import data_export_build_task

    now = now or timezone.now()
    expired = 0
    due = DataExport.objects.filter(status=DataExportStatus.READY, expires_at__lte=now).order_by("expires_at")
    for export_id, path in list(due.values_list("pk", "file_path")[:limit]):
        if path:
            default_storage.delete(path)
        expired += DataExport.objects.filter(pk=export_id, status=DataExportStatus.READY).update(
            status=DataExportStatus.EXPIRED, file_path="")
    stalled = DataExport.objects.filter(
        Q(status=DataExportStatus.PENDING, requested_at__lte=now - DATA_EXPORT_PENDING_GRACE)
        | Q(status=DataExportStatus.RUNNING, started_at__lt=now - DATA_EXPORT_STALE_AFTER)
    ).values_list("pk", flat=True)[:limit]
    requeued = 0
    for export_id in list(stalled):
        _data_export_schedule(export_id, data_export_build_task)
        requeued += 1
    return {"expired": expired, "requeued": requeued}
