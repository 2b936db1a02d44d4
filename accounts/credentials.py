"""Credentials: what a request or a socket proved it is, and whether that proof still holds.

A websocket lives for hours on the credential it connected with, so "is this credential still
valid?" is asked again whenever access may have changed (a key revoked, a session ended, a user
deactivated) and, as a safety net, on every heartbeat. ``credential_user`` answers it from the
database, never from a copy taken at connect time.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.utils.crypto import constant_time_compare

SESSION = "session"
API_KEY = "api_key"
CONSOLE = "console"


@dataclass(frozen=True)
class Credential:
    """A browser session, a personal API key, or the server console (management commands, the shell)."""

    kind: str
    id: str = ""  # the session key, or the API key's id
    signed_in_at: float | None = None  # sessions: the latest sign-in or re-authentication (epoch seconds)
    reauthenticated_at: float | None = None  # sessions: the latest re-authentication only (allauth's)

    @property
    def group(self) -> str:
        """The Channels group of every socket opened with this credential (session keys are hashed:
        group names travel through Redis and logs)."""
        digest = hashlib.sha256(f"{self.kind}:{self.id}".encode()).hexdigest()[:32]
        return f"credential.{digest}"

    @property
    def recently_signed_in(self) -> bool:
        """Signed in or re-authenticated within allauth's re-authentication window (5 minutes)."""
        if self.kind == CONSOLE:
            return True
        from allauth.account import app_settings

        return self.signed_in_at is not None and time.time() - self.signed_in_at < app_settings.REAUTHENTICATION_TIMEOUT

    @property
    def recently_reauthenticated(self) -> bool:
        """Re-authenticated (asked for the password again) within allauth's window, as allauth's
        ``reauthentication_required`` demands: a fresh sign-in alone is not enough (accounts.deletion)."""
        if self.kind == CONSOLE:
            return True
        from allauth.account import app_settings

        return (self.reauthenticated_at is not None
                and time.time() - self.reauthenticated_at < app_settings.REAUTHENTICATION_TIMEOUT)

    @classmethod
    def console(cls) -> Credential:
        return cls(kind=CONSOLE)

    @classmethod
    def for_api_key(cls, api_key) -> Credential:
        return cls(kind=API_KEY, id=str(api_key.pk))

    @classmethod
    def from_request(cls, request) -> Credential | None:
        """The credential of a DRF or Django request (None when anonymous)."""
        from .models import ApiKey

        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiKey):
            return cls.for_api_key(auth)
        if not request.user.is_authenticated:
            return None
        django_request = getattr(request, "_request", request)
        return cls.for_session(django_request.session, request.user)

    @classmethod
    def for_session(cls, session, user) -> Credential:
        from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY

        records = session.get(AUTHENTICATION_METHODS_SESSION_KEY)
        records = [r for r in records if isinstance(r, dict) and isinstance(r.get("at"), int | float)] if isinstance(
            records, list) else []
        times = [r["at"] for r in records]
        again = [r["at"] for r in records if r.get("reauthenticated")]
        return cls(kind=SESSION, id=session.session_key or "", signed_in_at=max(times) if times else None,
                   reauthenticated_at=max(again) if again else None)


def credential_user(credential: Credential):
    """The credential's user, loaded fresh, if the credential still holds; None when it does not
    (revoked or expired key, ended or invalidated session, deactivated or suspended user)."""
    from moderation.sanctions import suspension_exists, suspension_for

    if credential.kind == API_KEY:
        from .models import ApiKey

        api_key = (ApiKey.objects.select_related("user", "user__profile").annotate(user_suspended=suspension_exists("user_id"))
                   .filter(pk=credential.id).first())
        if api_key is None or not api_key.is_active or not api_key.user.is_active or api_key.user_suspended:
            return None
        return api_key.user
    if credential.kind == SESSION:
        user = _session_user(credential.id)
        if user is not None and suspension_for(user.pk) is not None:  # cached: no query on the hot path
            return None
        return user
    return None


def _session_user(session_key: str):
    """Django's own session check (``django.contrib.auth.get_user``), without its side effects:
    a socket asking again must not flush or cycle the browser's session."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key):
        return None
    try:
        user_id = store[SESSION_KEY]
        backend_path = store[BACKEND_SESSION_KEY]
    except KeyError:
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)
    if user is None or not user.is_active:
        return None
    session_hash = store.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not session_hash or not any(constant_time_compare(session_hash, h) for h in hashes):
        return None
    return user


def credentials_still_valid(credentials) -> dict:
    """``{credential: (user_id, is_staff)}`` for those of ``credentials`` that still hold; the rest are
    absent. A few queries for any number of credentials: one process checks all its sockets at once.

    The same answer as ``credential_user`` for each, read in bulk: sessions from the database (the
    cached_db store writes through to it), keys with their users.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from moderation.sanctions import suspension_exists

    from .models import ApiKey

    valid: dict = {}
    key_ids = {c.id: c for c in credentials if c.kind == API_KEY}
    if key_ids:
        rows = ApiKey.objects.filter(pk__in=list(key_ids), revoked_at__isnull=True, user__is_active=True).exclude(
            expires_at__lte=timezone.now()
        ).filter(~suspension_exists("user_id")).values_list("pk", "user_id", "user__is_staff")
        for pk, user_id, is_staff in rows:
            valid[key_ids[str(pk)]] = (str(user_id), is_staff)
    sessions = {c.id: c for c in credentials if c.kind == SESSION and c.id}
    if sessions:
        decoded = {}
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        for row in Session.objects.filter(session_key__in=list(sessions), expire_date__gt=timezone.now()):
            data = store.decode(row.session_data)
            if data.get(BACKEND_SESSION_KEY) in settings.AUTHENTICATION_BACKENDS and data.get(SESSION_KEY):
                decoded[row.session_key] = data
        users = get_user_model().objects.annotate(suspended=suspension_exists()).in_bulk(
            {data[SESSION_KEY] for data in decoded.values()}
        )
        for session_key, data in decoded.items():
            user = users.get(get_user_model()._meta.pk.to_python(data[SESSION_KEY]))
            if user is None or not user.is_active or user.suspended:
                continue
            hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
            if any(constant_time_compare(data.get(HASH_SESSION_KEY) or "", h) for h in hashes):
                valid[sessions[session_key]] = (str(user.pk), user.is_staff)
    return valid


def reauthentication_refusal(message: str, *, then: str):
    """403 ``reauthentication_required``, naming where to sign in again and come back to (``then``, a URL name):
    what a sensitive action (a new API key, deleting the account) answers a credential that is too old."""
    from django.urls import reverse

    from agentwise.errors import Forbidden

    return Forbidden(
        message,
        code="reauthentication_required",
        extra={"reauthenticate_url": reverse("account_reauthenticate") + "?next=" + reverse(then)},
    )
