"""Moderation at the doors: bot detection (docs/bot-detection.md: the HTTP middleware and the websocket
guard), the current request for the audit log (docs/audit-log.md), and suspended users' sessions ended on
their next request (docs/reports-and-sanctions.md; the sign-in itself is refused by ``accounts.adapters``,
API keys by ``accounts.services.api_key_authenticate``)."""

from __future__ import annotations

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject, empty

from agentwise.api.errors import error_response
from agentwise.net import client_ip

from . import bots
from .audit import current_request_reset, current_request_set

logger = logging.getLogger(__name__)

BLOCKED_MESSAGE = "Too many suspicious requests from your address. Try again later."
_DEFERRED = "_bot_block_deferred"


def blocked_response(request, block: dict):
    """429 with Retry-After: JSON for the API (and JSON clients), a small page otherwise. Renders
    without context processors, so a blocked request costs no database query."""
    seconds = bots.retry_after(block)
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response = error_response(429, BLOCKED_MESSAGE, code="blocked", retry_after=seconds)
    else:
        page = render_to_string("moderation/blocked.html", {"retry_after": seconds, "message": BLOCKED_MESSAGE})
        response = HttpResponse(page, status=429, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    response._has_been_logged = True  # one log line per block (bots.bot_block), not one per refused request
    return response


def _resolved_user(request):
    """The request's user if something already loaded it (the auth middleware's lazy user once
    evaluated, or DRF's authenticated user), else None: recording never costs a query of its own."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        return None if user._wrapped is empty else user._wrapped
    return user


def _carries_identity(request) -> bool:
    return bool(request.COOKIES.get(settings.SESSION_COOKIE_NAME) or request.headers.get("Authorization"))


def _identity_exempt(request, address: str | None) -> bool:
    """Whether a request from a blocked address is from staff or an allow-listed user (session or API key)."""
    user = getattr(request, "user", None)
    if not (user is not None and user.is_authenticated) and request.headers.get("Authorization"):
        user = _api_user(request)
    return bots.allow_list().allows(address=address, user=user)


def _api_user(request):
    from rest_framework.exceptions import APIException
    from rest_framework.request import Request
    from rest_framework.settings import api_settings

    try:
        return Request(request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]).user
    except APIException:
        return None


class BotDetectionMiddleware:
    """Refuses blocked addresses with 429 before anything else runs, and records every answered
    request's signals in the address's (and signed-in user's) sliding windows.

    Sits right after WhiteNoise, so static files are neither counted nor refused. A request from a
    blocked address that carries a session or an API key is decided in ``process_view``, once its user
    is known, so staff and allow-listed users behind a blocked address are still served.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.MODERATION_BOT_DETECTION or request.path in bots.EXEMPT_PATHS:
            return self.get_response(request)
        address = client_ip(request)
        try:
            block = bots.block_for(address)
        except Exception:  # the cache is down: fail open (serve) rather than refuse everyone
            logger.exception("bot detection: block check failed")
            return self.get_response(request)
        if block is not None:
            if not _carries_identity(request):
                if bots.allow_list().allows(address=address):
                    return self.get_response(request)
                return blocked_response(request, block)
            setattr(request, _DEFERRED, block)
            response = self.get_response(request)
            block = getattr(request, _DEFERRED)
            if block is not None and not _identity_exempt(request, address):  # no view ran (an unknown URL)
                return blocked_response(request, block)
            return response
        response = self.get_response(request)
        self._record(request, response, address)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        block = getattr(request, _DEFERRED, None)
        if block is None:
            return None
        setattr(request, _DEFERRED, None)
        if _identity_exempt(request, client_ip(request)):
            return None
        return blocked_response(request, block)

    def _record(self, request, response, address):
        user = _resolved_user(request)
        counts = bots.request_signals(
            path=request.path,
            status=response.status_code,
            user_agent=request.headers.get("User-Agent", ""),
            authenticated=bool(user is not None and user.is_authenticated),
        )
        for name, amount in bots.pending_signals(request).items():
            counts[name] = counts.get(name, 0) + amount
        try:
            bots.observe(
                address=address,
                user=user,
                counts=counts,
                user_agent=request.headers.get("User-Agent", ""),
                path=request.path,
            )
        except Exception:  # a Redis outage must not turn every page into a 500
            logger.exception("bot detection: recording failed")


class BlockedAddressGuard:
    """Refuses the websocket handshake (HTTP 403) of a blocked address, unless the socket's user is
    staff or allow-listed. Sits inside the auth stack, so ``scope["user"]`` is known."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and settings.MODERATION_BOT_DETECTION:
            address = client_ip(scope)
            block = await _ablock_for(address) if address else None
            if block is not None and not await _aexempt(address, scope.get("user")):
                await receive()  # the websocket.connect event
                await send({"type": "websocket.close", "code": 4429})
                return None
        return await self.inner(scope, receive, send)


async def _ablock_for(address: str):
    from asgiref.sync import sync_to_async

    return await sync_to_async(bots.block_for)(address)


async def _aexempt(address, user) -> bool:
    from channels.db import database_sync_to_async

    def exempt():
        return bots.allow_list().allows(address=address, user=user)

    return await database_sync_to_async(exempt)()

class AuditRequestMiddleware:
    """Holds the request in a context variable while it is served, so ``audit_record`` called deep in a
    service (or a signal receiver) records the client's address without every caller passing it. Cleared
    when the response is returned, so nothing leaks into the next request on the same thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        token = current_request_set(request)
        try:
            return self.get_response(request)
        finally:
            current_request_reset(token)

    async def __acall__(self, request):
        token = current_request_set(request)
        try:
            return await self.get_response(request)
        finally:
            current_request_reset(token)

class SuspensionMiddleware:
    """One cache read per signed-in request (no query): a suspended user is signed out and told why."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from .sanctions import suspension_for, suspension_refusal

        session = getattr(request, "session", None)
        user_id = session.get(SESSION_KEY) if session is not None else None
        entry = suspension_for(user_id) if user_id else None
        if entry is None:
            return self.get_response(request)
        logout(request)  # fires user_logged_out: the session's sockets close (4401)
        return _refusal_response(request, suspension_refusal(entry))


def _refusal_response(request, refusal):
    from django.shortcuts import render

    from agentwise.api.errors import error_response
    from agentwise.views import wants_json

    if request.path.startswith("/api/") or wants_json(request):
        return error_response(refusal.status_code, refusal.message, code=refusal.code, **refusal.extra)
    return render(request, "errors/refusal.html", {"refusal": refusal}, status=refusal.status_code)
