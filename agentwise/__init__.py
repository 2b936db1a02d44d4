"""Agentwise project package: settings, URLs, ASGI app, Celery app and websocket routing."""

from .celery import app as celery_app

__all__ = ["celery_app"]
