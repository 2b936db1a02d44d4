"""Community pages: the chat shell the JS module fills from the REST API and the websocket, and
access-checked file downloads."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.authentication import request_user
from agentwise.errors import NotFound

from . import selectors
from .events import author_payload


@login_required
def community_home(request):
    config = {
        "me": author_payload(request.user),
        "api": reverse("community-channel-list").rsplit("channels/", 1)[0],
        "ws": "/ws/",
        # A channel of type forum shows its topics (from the forum API) linking to the forum pages, not a chat.
        "forum_api": reverse("forum-post-list"),
        "forum": reverse("forum_index"),
    }
    return render(request, "community/index.html", {"config": config})


@require_GET
def attachment_download(request, attachment_id, extension):
    """Serves a file to whoever may read its message (session or API key), as the type it was
    detected as. Only images are shown inline; anything else downloads, and nothing runs script."""
    user = request_user(request)
    attachment = selectors.attachment_get_visible(user=user, attachment_id=attachment_id)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise NotFound() from None
    response = FileResponse(
        handle,
        content_type=attachment.content_type,
        as_attachment=not attachment.is_image,
        filename=attachment.name,
    )
    response["Cache-Control"] = "private, max-age=3600"
    if attachment.content_type == "application/pdf":
        # Chrome will not open its PDF viewer in a sandboxed document (nor under the site policy's
        # object-src 'none'); a PDF runs no script on our origin. Framing stays refused.
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
    else:
        response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    return response
