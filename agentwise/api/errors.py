"""One JSON error shape for the whole API: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from agentwise.errors import Refusal, as_outage, as_refusal

logger = logging.getLogger(__name__)

_CODES = {
    400: "invalid",
    401: "not_authenticated",
    402: "payment_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def error_body(status_code: int, message: str, *, code: str | None = None, fields: dict | None = None, **extra) -> dict:
    error = {"code": code or _CODES.get(status_code, "error"), "message": message}
    if fields:
        error["fields"] = fields
    error.update(extra)
    return {"error": error}


def error_response(status_code: int, message: str, **kwargs) -> JsonResponse:
    """A plain-Django JSON error, for the places DRF does not reach (middleware, 404/500 handlers)."""
    return JsonResponse(error_body(status_code, message, **kwargs), status=status_code)


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def refusal_response(refusal: Refusal) -> Response:
    return Response(
        error_body(refusal.status_code, refusal.message, code=refusal.code, **refusal.extra),
        status=refusal.status_code,
        headers=refusal.headers,
    )


def exception_handler(exc, context):
    """DRF's own exceptions keep DRF's handling; every domain refusal goes through ``as_refusal``."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if not isinstance(exc, exceptions.APIException):
        refusal = as_refusal(exc)
        if refusal is None and (refusal := as_outage(exc)) is not None:
            logger.warning("API request failed: %s", refusal.message, exc_info=exc)
        if refusal is None:
            return None  # a fault: Django's 500 handling (logged) takes it
        if refusal.status_code == 400 and "fields" in refusal.extra:
            exc = exceptions.ValidationError(refusal.extra["fields"])
        else:
            return refusal_response(refusal)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    code = _CODES.get(response.status_code, "error")
    extra: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = error_body(
            400, "Some fields are invalid." if isinstance(exc.detail, dict) else _first_message(exc.detail), fields=fields
        )
        return Response(body, status=400, headers=_headers(response))
    if isinstance(exc, exceptions.Throttled):
        extra = {"retry_after": exc.wait and int(exc.wait + 0.999)}
    elif isinstance(exc, exceptions.APIException):
        detail_code = exc.get_codes() if isinstance(exc.get_codes(), str) else None
        if detail_code and detail_code not in {"error", "invalid"}:
            code = detail_code
    return Response(
        error_body(response.status_code, _first_message(getattr(exc, "detail", str(exc))), code=code, **extra),
        status=response.status_code,
        headers=_headers(response),
    )


def _headers(response) -> dict:
    return {k: v for k, v in response.items() if k in {"WWW-Authenticate", "Retry-After", "Allow"}}
