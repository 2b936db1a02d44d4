"""Project-wide middleware."""

from django.conf import settings

from agentwise.api.errors import error_response


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
