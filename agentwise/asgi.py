"""ASGI entry point: HTTP through Django, websockets at /ws/ through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")

# Django must be set up before consumers (and their models) are imported.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.websocket import OriginValidator, WebsocketAuthMiddlewareStack  # noqa: E402
from agentwise.daphne import let_django_parse_request_bodies, take_client_address_from_trusted_proxies  # noqa: E402
from agentwise.routing import websocket_urlpatterns  # noqa: E402
from moderation.middleware import BlockedAddressGuard  # noqa: E402

let_django_parse_request_bodies()
take_client_address_from_trusted_proxies()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(WebsocketAuthMiddlewareStack(BlockedAddressGuard(URLRouter(websocket_urlpatterns)))),
    }
)
