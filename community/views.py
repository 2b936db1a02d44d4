"""The community chat page: a shell the JS module fills from the REST API and the websocket."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse

from .events import author_payload


@login_required
def community_home(request):
    config = {
        "me": author_payload(request.user),
        "isStaff": request.user.is_staff,
        "api": reverse("community-channel-list").rsplit("channels/", 1)[0],
        "ws": "/ws/",
    }
    return render(request, "community/index.html", {"config": config})
