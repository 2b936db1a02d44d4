"""ASGI entry point: HTTP through Django, websockets at /ws/ through Channels."""

import os
import sys

from django.core.asgi import get_asgi_application

# The event loop thread fans frames out while the one database thread (database_sync_to_async) waits on
# PostgreSQL; each time a query's I/O returns, that thread waits for the GIL up to the switch interval,
# several times per query (5 ms each by default). With the loop busy, a join's or a message's few
# queries took tens of milliseconds of waiting (docs/performance.md, Realtime). 0.5 ms bounds it.
sys.setswitchinterval(0.0005)

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
