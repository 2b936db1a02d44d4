"""Websocket authentication: the session cookie (browsers) or a Bearer API key header (scripts).

Besides ``scope["user"]`` it records ``scope["credential"]``: which session or key opened the
socket, so the socket can be closed when that credential ends and re-checked while it lives.
"""

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host

from .authentication import bearer_token
from .credentials import SESSION, Credential
from .services import ApiKeyRejected, api_key_authenticate


@database_sync_to_async
def _user_for_key(token: str):
    try:
        api_key = api_key_authenticate(token)
    except ApiKeyRejected as rejected:
        return AnonymousUser(), None, rejected.reason
    return api_key.user, Credential.for_api_key(api_key), None


class CredentialMiddleware(BaseMiddleware):
    """A Bearer key, when present, decides the user (an invalid key is refused with 4401, never
    anonymous or the session); otherwise the session's user, with the session as the credential."""

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        token = bearer_token(headers.get(b"authorization"))
        scope = dict(scope)
        if token is not None:
            if token:
                scope["user"], scope["credential"], scope["auth_error"] = await _user_for_key(token)
            else:
                scope["user"], scope["credential"], scope["auth_error"] = AnonymousUser(), None, "unknown"
            scope["auth_method"] = "api_key"
        else:
            user = scope.get("user")
            session = scope.get("session")
            if user is not None and user.is_authenticated and session is not None and session.session_key:
                scope["credential"] = Credential(kind=SESSION, id=session.session_key)
        return await super().__call__(scope, receive, send)


def WebsocketAuthMiddlewareStack(inner):  # noqa: N802 (named like Channels' own stacks)
    # The session stack runs first; a Bearer header, when present, decides the user instead.
    return AuthMiddlewareStack(CredentialMiddleware(inner))


def _origin_tuple(value: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def allowed_origins() -> set[tuple[str, str, int]]:
    """The site's own origin and the configured trusted origins, as (scheme, host, port)."""
    configured = [settings.SITE_URL, *settings.CSRF_TRUSTED_ORIGINS, *getattr(settings, "WEBSOCKET_ALLOWED_ORIGINS", [])]
    return {origin for origin in map(_origin_tuple, configured) if origin}


def _own_origin(scope, headers) -> tuple[str, str, int] | None:
    """The origin this handshake was addressed to: its scheme and its Host, if ALLOWED_HOSTS has it."""
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return _origin_tuple(f"{scheme}://{host}")


class OriginValidator:
    """Refuses cross-site handshakes (websocket hijacking), but lets scripts omit ``Origin``.

    A browser's ``Origin`` must match, in scheme, host and port, either the origin the handshake was
    addressed to (its Host, which must be in ALLOWED_HOSTS) or a configured trusted origin (SITE_URL,
    CSRF_TRUSTED_ORIGINS). ``http://agentwise.example:8080`` is not ``https://agentwise.example``.
    A handshake with no Origin comes from a non-browser client; it is allowed only with a Bearer API
    key, which a hijacking page could not attach — cookies alone never get in without a valid Origin.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin")
        if origin is None:
            if bearer_token(headers.get(b"authorization")):
                return await self.inner(scope, receive, send)
            return await self._deny(scope, receive, send)
        claimed = _origin_tuple(origin.decode("latin-1"))
        if claimed is not None and (claimed == _own_origin(scope, headers) or claimed in allowed_origins()):
            return await self.inner(scope, receive, send)
        return await self._deny(scope, receive, send)

    async def _deny(self, scope, receive, send):
        # As Channels' own validator: refuse the handshake (the client sees an HTTP 403).
        from channels.security.websocket import WebsocketDenier

        return await WebsocketDenier()(scope, receive, send)
