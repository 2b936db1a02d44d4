"""The web process: ``python -m agentwise.web [daphne options]`` runs daphne as the settings say.

daphne's ``--proxy-headers`` is passed only when ``DJANGO_TRUSTED_PROXY_COUNT`` says proxies sit in
front of us; without one, a client could write its own address. Serves ``$PORT`` (default 8000) on
all interfaces; extra options (``--bind 127.0.0.1``) are handed to daphne and win over these.
"""

import gc
import os
import sys

WEBSOCKET_MAX_MESSAGE_BYTES = 1_048_576


def daphne_args(extra: list[str]) -> list[str]:
    from django.conf import settings

    args = ["--bind", "0.0.0.0", "--port", os.environ.get("PORT", "8000"),
            "--websocket-max-message-size", str(WEBSOCKET_MAX_MESSAGE_BYTES)]
    if settings.TRUSTED_PROXY_COUNT:
        args.append("--proxy-headers")
    return [*args, *extra, "agentwise.asgi:application"]


def freeze_startup_heap() -> None:
    """Moves everything alive after start-up out of the collector's sight (``gc.freeze()``).

    The loaded app is a few hundred thousand long-lived objects (modules, URL patterns, serializers,
    schema). Left in the oldest generation, every full collection walks them all: a pause of tens of
    milliseconds every few hundred API requests, which was most of the API's p99 (docs/performance.md).
    Frozen, a full collection walks only what requests left behind. Call it once the app is loaded.
    """
    gc.collect()
    gc.freeze()


def load_application() -> None:
    """Imports the ASGI application and the URLconf (every view and serializer) before serving, so
    ``freeze_startup_heap`` covers them and the first request does not pay for the imports."""
    from django.urls import get_resolver

    import agentwise.asgi  # noqa: F401

    get_resolver().url_patterns  # noqa: B018


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    from daphne.cli import CommandLineInterface

    load_application()
    freeze_startup_heap()
    CommandLineInterface().run(daphne_args(sys.argv[1:]))


if __name__ == "__main__":
    main()
