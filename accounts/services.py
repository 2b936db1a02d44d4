"""Writes for accounts: profiles and personal API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from .models import ApiKey, Notification, Profile, User

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


class ApiKeyRejected(Exception):
    """The presented key is unknown, revoked or expired; ``reason`` says which."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is safe and keeps lookups to one indexed query.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def profile_update(*, actor: User, profile: Profile, data: dict) -> Profile:
    """Updates the handle and public profile fields. Raises PermissionDenied for anyone but the owner."""
    if not actor.has_perm("accounts.change_profile", profile):
        raise PermissionDenied("You can only change your own profile.")
    user = profile.user
    if "username" in data and data["username"] != user.username:
        user.username = data["username"]
        user.full_clean(exclude=["password", "email"])
        user.save(update_fields=["username"])
    changed = []
    for field in PROFILE_FIELDS + ("avatar",):
        if field in data:
            setattr(profile, field, data[field] if data[field] is not None else "")
            changed.append(field)
    if changed:
        profile.full_clean(exclude=["user"])
        profile.save(update_fields=[*changed, "updated_at"])
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
    changed = []
    for field, value in values.items():
        if not value or getattr(profile, field):
            continue
        model_field = Profile._meta.get_field(field)
        try:
            cleaned = model_field.clean(str(value)[: model_field.max_length or None], profile)
        except ValidationError:
            continue  # a provider value we cannot use is skipped, not fatal
        setattr(profile, field, cleaned)
        changed.append(field)
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])
    return profile


@transaction.atomic
def api_key_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Creates a key and returns it with its secret, which is never stored or shown again."""
    if not user.has_perm("accounts.add_apikey"):
        raise PermissionDenied("You cannot create API keys.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
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
    return api_key, raw_key


def api_key_revoke(*, actor: User, api_key: ApiKey) -> ApiKey:
    """Revokes a key at once; later requests with it get 401. Revoking twice is harmless."""
    if not actor.has_perm("accounts.delete_apikey", api_key) and not actor.is_staff:
        raise PermissionDenied("You can only revoke your own keys.")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(raw_key: str) -> ApiKey:
    """Returns the active key for a presented secret (user loaded) or raises ApiKeyRejected."""
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) > 128:
        raise ApiKeyRejected("unknown")
    try:
        api_key = ApiKey.objects.select_related("user").get(key_hash=hash_api_key(raw_key))
    except ApiKey.DoesNotExist:
        raise ApiKeyRejected("unknown") from None
    if api_key.revoked_at is not None:
        raise ApiKeyRejected("revoked")
    if api_key.is_expired:
        raise ApiKeyRejected("expired")
    if not api_key.user.is_active:
        raise ApiKeyRejected("inactive_user")
    _api_key_touch(api_key)
    return api_key


def _api_key_touch(api_key: ApiKey) -> None:
    """Records use at most once a minute per key, so a busy CLI does not write on every request."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


def notifications_mark_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
