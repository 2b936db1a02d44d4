"""Websocket routes: one endpoint, /ws/, carrying every realtime feature."""

from django.urls import path

from community.consumers import RealtimeConsumer

websocket_urlpatterns = [
    path("ws/", RealtimeConsumer.as_asgi()),
]
