"""A tiny round-robin TCP load balancer for the local cluster: ``python -m agentwise.devproxy PORT BACKEND...``.

Each client connection goes to the next backend (``host:port``) in turn, and its bytes are piped both ways
unread, so HTTP, keep-alive and websocket upgrades all pass through. No sticky sessions: every web
process serves every user (sessions and presence live in Redis and PostgreSQL). A backend that refuses
the connection is skipped for that client, so when a web process dies its clients reconnect to another.
For development and tests only; production puts a real load balancer in front (docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import sys

logger = logging.getLogger("agentwise.devproxy")

CONNECT_TIMEOUT_SECONDS = 2.0
CHUNK_BYTES = 65536


def parse_backend(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return (host or "127.0.0.1"), int(port)


class RoundRobinProxy:
    def __init__(self, backends: list[tuple[str, int]]):
        if not backends:
            raise ValueError("the proxy needs at least one backend")
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        connected = await self._connect()
        if connected is None:
            logger.warning("devproxy: no backend accepted the connection")
            client_writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await _close(client_writer)
            return
        backend_reader, backend_writer = connected
        await asyncio.gather(
            _pipe(client_reader, backend_writer), _pipe(backend_reader, client_writer), return_exceptions=True
        )

    async def _connect(self):
        for _ in range(len(self.backends)):
            host, port = self.backends[next(self._next)]
            try:
                return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_SECONDS)
            except (TimeoutError, OSError):
                logger.warning("devproxy: backend %s:%s refused; trying the next", host, port)
        return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copies until end of stream or error, then closes the writing side (the other pipe ends too)."""
    try:
        while chunk := await reader.read(CHUNK_BYTES):
            writer.write(chunk)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        await writer.wait_closed()
    except OSError:
        pass


async def serve(port: int, backends: list[tuple[str, int]], host: str = "0.0.0.0") -> None:
    proxy = RoundRobinProxy(backends)
    server = await asyncio.start_server(proxy.handle, host, port, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info("devproxy: %s:%s -> %s", host, port, ", ".join(f"{h}:{p}" for h, p in backends))
    async with server:
        await stop.wait()


def main(argv: list[str]) -> None:
    """``devproxy [--port PORT] BACKEND...``: PORT defaults to ``$PORT``; a backend is ``host:port`` or a port."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m agentwise.devproxy", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("backends", nargs="+", metavar="BACKEND")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    asyncio.run(serve(options.port, [parse_backend(value) for value in options.backends], host=options.host))


if __name__ == "__main__":
    main(sys.argv[1:])
