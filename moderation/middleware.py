"""Ends the session of a suspended user on their next request (the sign-in itself is refused by
``accounts.adapters``, API keys by ``accounts.services.api_key_authenticate``)."""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY, logout


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
