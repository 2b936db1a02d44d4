"""Writes for accounts: profiles and personal API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from agentwise.access import can, require
from agentwise.errors import Forbidden
from agentwise.integrity import unique_error
from agentwise.ratelimits import rate_limit_hit
from billing.plans import SubscriptionTier
from moderation.audit import audit_record
from moderation.gate import flag_after_save, screen_text

from . import events
from .credentials import CONSOLE, Credential
from .models import ApiKey, Notification, NotificationPreference, Profile, User, UserMute
from .notification_kinds import CHOOSABLE, KINDS
from .selectors import notification_deliveries

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
        raise Forbidden(
            "Confirm it is you: sign in again to create an API key.",
            code="reauthentication_required",
            extra={"reauthenticate_url": reverse("account_reauthenticate") + "?next=" + reverse("account_api_keys")},
        )
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
