"""The web process: ``python -m agentwise.web [daphne options]`` runs daphne as the settings say.

daphne's ``--proxy-headers`` is passed only when ``DJANGO_TRUSTED_PROXY_COUNT`` says proxies sit in
front of us; without one, a client could write its own address. Serves ``$PORT`` (default 8000) on
all interfaces; extra options (``--bind 127.0.0.1``) are handed to daphne and win over these.
"""

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


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(daphne_args(sys.argv[1:]))


if __name__ == "__main__":
    main()
