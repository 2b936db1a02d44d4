"""WSGI entry point (HTTP only; production serves ASGI through daphne, see Procfile)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")

application = get_wsgi_application()
