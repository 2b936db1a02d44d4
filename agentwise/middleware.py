"""Project-wide middleware."""

from django.conf import settings

from agentwise.api.errors import error_response


class ServedByMiddleware:
    """``X-Served-By: <PROCESS_NAME>`` on every response when the setting names this process."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.name = settings.PROCESS_NAME

    def __call__(self, request):
        response = self.get_response(request)
        if self.name:
            response["X-Served-By"] = self.name
        return response


class ApiRequestSizeLimitMiddleware:
    """Refuses API bodies over ``API_MAX_REQUEST_BYTES`` with a JSON 413 before anything reads them.

    DRF streams request bodies to its parsers without Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check,
    so without this a client could make the JSON parser hold an arbitrarily large body in memory.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return error_response(400, "Content-Length is not a number.", code="invalid")
            if length > settings.API_MAX_REQUEST_BYTES:
                return error_response(
                    413,
                    f"The request body is {length} bytes; the limit is {settings.API_MAX_REQUEST_BYTES}.",
                    limit=settings.API_MAX_REQUEST_BYTES,
                )
        return self.get_response(request)


class RefusalMiddleware:
    """Pages answer a domain refusal (402, 409, 429, …) with its status and message, not a 500.

    ``NotFound`` and ``Forbidden`` are Django's own 404 and 403 and need nothing here; the API has
    its own translation (``agentwise.api.errors``) and the websocket consumer its ``error`` frame.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.core.exceptions import PermissionDenied
        from django.http import Http404
        from django.shortcuts import render

        from agentwise.errors import as_refusal
        from agentwise.views import wants_json

        if isinstance(exception, (Http404, PermissionDenied)) or request.path.startswith("/api/"):
            return None
        refusal = as_refusal(exception)  # a Refusal, a ValidationError, a unique constraint's race
        if refusal is None:
            return None  # a fault: Django's 500 handling (logged) takes it
        if wants_json(request):
            response = error_response(refusal.status_code, refusal.message, code=refusal.code, **refusal.extra)
        else:
            response = render(request, "errors/refusal.html", {"refusal": refusal}, status=refusal.status_code)
        for name, value in refusal.headers.items():
            response[name] = value
        return response
