"""Site-wide pages and error handlers."""

import sys

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.static import serve

from agentwise.api.errors import error_response
from agentwise.errors import Forbidden, as_outage


def home(request):
    return render(request, "home.html")


def wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


@csrf_exempt  # answers nothing but 404: a POST with an API key (no CSRF cookie) must not read "csrf_failed"
def api_not_found(request, *args, **kwargs):
    return error_response(404, "No such API endpoint.")


def handler404(request, exception=None):
    if wants_json(request):
        return error_response(404, "Not found.")
    return render(request, "errors/404.html", status=404)


def handler500(request):
    """Also reached by errors raised in middleware (a session read while the database is away): an
    outage is answered 503, as the API's own handler does for errors raised in views."""
    outage = as_outage(sys.exc_info()[1])
    if outage is not None:
        response = (error_response(503, outage.message, code=outage.code) if wants_json(request)
                    else render(request, "errors/500.html", status=503))
        response["Retry-After"] = outage.headers["Retry-After"]
        return response
    if wants_json(request):
        return error_response(500, "Something went wrong on our side; it has been logged.")
    return render(request, "errors/500.html", status=500)


def handler403(request, exception=None):
    # Only our own refusals carry a message meant for the user; other 403s keep the generic text.
    message = exception.message if isinstance(exception, Forbidden) else ""
    if wants_json(request):
        return error_response(403, message or "You do not have permission to do this.")
    return render(request, "errors/403.html", {"message": message}, status=403)


def handler400(request, exception=None):
    if wants_json(request):
        return error_response(400, "Bad request.")
    return render(request, "errors/400.html", status=400)


def csrf_failure(request, reason=""):
    if wants_json(request):
        return error_response(403, f"CSRF check failed: {reason}", code="csrf_failed")
    return render(request, "errors/403.html", {"reason": reason}, status=403)


PUBLIC_MEDIA_PREFIXES = ("avatars/",)


def media(request, path: str):
    """Public uploads (avatars), sandboxed: opened directly, a file can never run script on our origin.

    Chat attachments are not public: they are served by ``community.views.attachment_download``,
    which asks the message's rules, so they are not reachable here whatever their path.
    """
    if not path.startswith(PUBLIC_MEDIA_PREFIXES) or ".." in path.split("/"):
        raise Http404
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    if response.get("Content-Type", "").startswith("application/pdf"):
        # Chrome will not open its PDF viewer in a sandboxed document (nor under the site policy's
        # object-src 'none'); a PDF runs no script on our origin. Framing stays refused.
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    return response
