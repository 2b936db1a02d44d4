"""Websocket authentication: the session cookie (browsers) or a Bearer API key header (scripts)."""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from .authentication import bearer_token
from .services import ApiKeyRejected, api_key_authenticate


@database_sync_to_async
def _user_for_key(token: str):
    try:
        return api_key_authenticate(token).user, None
    except ApiKeyRejected as rejected:
        return AnonymousUser(), rejected.reason


class ApiKeyAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from a Bearer key; an invalid key leaves the user anonymous (refused with 4401)."""

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        token = bearer_token(headers.get(b"authorization"))
        if token is not None:
            scope = dict(scope)
            scope["user"], scope["auth_error"] = await _user_for_key(token) if token else (AnonymousUser(), "unknown")
            scope["auth_method"] = "api_key"
        return await super().__call__(scope, receive, send)


def WebsocketAuthMiddlewareStack(inner):  # noqa: N802 (named like Channels' own stacks)
    # The session stack runs first; a Bearer header, when present, decides the user instead.
    return AuthMiddlewareStack(ApiKeyAuthMiddleware(inner))


class OriginValidator:
    """Refuses cross-site handshakes (websocket hijacking), but lets scripts omit ``Origin``.

    Browsers always send ``Origin``, and it must be one of ALLOWED_HOSTS (Channels' validator). A
    handshake with no Origin comes from a non-browser client; it is allowed only with a Bearer API key,
    which a hijacking page could not attach — cookies alone never get in without a valid Origin.
    """

    def __init__(self, inner):
        from channels.security.websocket import AllowedHostsOriginValidator

        self.inner = inner
        self.checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        if b"origin" not in headers and bearer_token(headers.get(b"authorization")):
            return await self.inner(scope, receive, send)
        return await self.checked(scope, receive, send)
