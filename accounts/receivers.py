"""Hooks into Django's and allauth's sign-in machinery: when a session ends or a password changes,
the sockets that relied on it must decide their access again. Each receiver calls one service."""

from allauth.account import signals as allauth_signals
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.contrib.auth.signals import user_logged_out

from . import services


def _on_logged_out(sender, request, user, **kwargs):
    if user is not None and request is not None and hasattr(request, "session"):
        services.session_ended(user_id=user.pk, session_key=request.session.session_key or "")


def _on_password_changed(sender, request, user, **kwargs):
    """Every other session is invalid now. The one that changed the password stays signed in, but
    Django gave it a new key: its sockets follow the session to that key instead of closing."""
    old_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "") if request is not None else ""
    session = getattr(request, "session", None)
    if old_key and session is not None and request.user.is_authenticated and session.session_key != old_key:
        session.save()  # the new key with the new hash, before any socket decides on it
        services.session_rotated(old_key=old_key, new_key=session.session_key)
    services.sessions_invalidated(user_id=user.pk)


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    """"Sign out everywhere else": the ended sessions' sockets close too."""

    def end_sessions(self, sessions) -> None:
        for session in sessions:
            key, user_id = session.session_key, session.user_id
            session.end()
            services.session_ended(user_id=user_id, session_key=key)


def connect() -> None:
    user_logged_out.connect(_on_logged_out, dispatch_uid="accounts.session_ended")
    for signal in (allauth_signals.password_changed, allauth_signals.password_set, allauth_signals.password_reset):
        signal.connect(_on_password_changed, dispatch_uid=f"accounts.sessions_invalidated.{id(signal)}")
