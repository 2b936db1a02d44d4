"""The one refusal vocabulary, and the one translation every door uses to report a refusal.

Services and selectors raise ``NotFound``, ``Forbidden`` (or Django's ``ValidationError``, or a
``Refusal`` for other statuses such as 402/409/429). ``as_refusal`` turns any of those — and a unique
constraint that lost a race — into a ``Refusal``; the REST exception handler, the websocket
consumer and the page middleware each render that one object in their own shape.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import Http404


class Refusal(Exception):
    """A rule said no: carries an HTTP-like status, a stable code, a message and structured detail.

    The API answers it as ``{"error": {"code", "message", **extra}}`` with ``status_code``; pages show
    the message; websocket consumers send it as an ``error`` frame.
    """

    status_code = 400
    code = "invalid"
    default_message = "The request was refused."

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        code: str | None = None,
        extra: dict | None = None,
        headers=None,
    ):
        self.message = message or self.default_message
        super().__init__(self.message)
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.extra = extra or {}
        self.headers = headers or {}


class NotFound(Refusal, Http404):
    """Unknown, or not visible to the actor: every door answers "not found" so existence does not leak."""

    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Forbidden(Refusal, PermissionDenied):
    """Visible to the actor, but this action is not theirs to take."""

    status_code = 403
    code = "permission_denied"
    default_message = "You do not have permission to do this."


def validation_refusal(error: ValidationError) -> Refusal:
    if hasattr(error, "error_dict"):
        fields = error.message_dict
        message = "Some fields are invalid."
    else:
        fields = {"non_field_errors": error.messages}
        message = " ".join(error.messages) or "Invalid."
    return Refusal(message, status_code=400, code="invalid", extra={"fields": fields})


def as_refusal(exc: BaseException) -> Refusal | None:
    """The refusal an exception stands for, or None when it is a fault (a bug, an outage)."""
    from agentwise.integrity import unique_violation

    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, ValidationError):
        return validation_refusal(exc)
    if isinstance(exc, PermissionDenied):
        return Forbidden(str(exc) or None)
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return NotFound()
    if isinstance(exc, IntegrityError):
        # A request that raced another past a uniqueness check: answered as the check would have.
        error = unique_violation(exc)
        return validation_refusal(error) if error is not None else None
    return None


class Unavailable(Refusal):
    """A dependency we cannot do without is out for a moment: try again shortly."""

    status_code = 503
    code = "unavailable"
    default_message = "The service is briefly unavailable; try again in a moment."


def as_outage(exc: BaseException) -> Unavailable | None:
    """A lost or refused connection to PostgreSQL (a failover, ``pg_terminate_backend``, a restart) or to
    Redis (the cache, rate limits, bot detection) is an outage of the moment, not a bug: every door
    answers 503 ``unavailable`` instead of a 500. Django drops a broken database connection at the end
    of the request (or frame) and redis-py reconnects, so the next one succeeds once the service is back."""
    from django.db import InterfaceError, OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if isinstance(exc, (OperationalError, InterfaceError)):
        return Unavailable("The database is briefly unavailable; try again in a moment.", headers={"Retry-After": "1"})
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)) or _is_cache_outage(exc):
        return Unavailable("The cache is briefly unavailable; try again in a moment.", headers={"Retry-After": "1"})
    return None


def _is_cache_outage(exc: BaseException) -> bool:
    try:
        from django_redis.exceptions import ConnectionInterrupted
    except ImportError:  # pragma: no cover (django-redis is a dependency)
        return False
    return isinstance(exc, ConnectionInterrupted)
