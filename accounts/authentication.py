"""DRF authentication by personal API key: ``Authorization: Bearer aw_...``."""

from rest_framework import authentication, exceptions

from .services import ApiKeyRejected, api_key_authenticate

_MESSAGES = {
    "unknown": "Invalid API key.",
    "revoked": "This API key has been revoked.",
    "expired": "This API key has expired.",
    "inactive_user": "This account is disabled.",
    "suspended": "This account is suspended.",
}


def bearer_token(authorization: str | bytes | None) -> str | None:
    """The token of a ``Bearer`` Authorization value, or None when the header is absent or another scheme."""
    if not authorization:
        return None
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """A presented key that is not valid is a 401: it never falls back to anonymous or the session."""

    def authenticate(self, request):
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        if not token:
            raise exceptions.AuthenticationFailed("Empty bearer token.", code="invalid_api_key")
        try:
            api_key = api_key_authenticate(token)
        except ApiKeyRejected as rejected:
            raise exceptions.AuthenticationFailed(
                rejected.message or _MESSAGES[rejected.reason], code=f"{rejected.reason}_api_key"
            ) from None
        return api_key.user, api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def request_user(request):
    """The user of a plain Django view that also serves scripts: a Bearer API key when one is sent
    (an invalid one is refused, never anonymous), else the session's user."""
    from django.contrib.auth.models import AnonymousUser

    from agentwise.errors import Refusal

    token = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
    if token is None:
        return request.user
    try:
        return api_key_authenticate(token).user if token else AnonymousUser()
    except ApiKeyRejected as rejected:
        raise Refusal(rejected.message or _MESSAGES[rejected.reason], status_code=401, code=f"{rejected.reason}_api_key") from None
