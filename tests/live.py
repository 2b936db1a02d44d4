"""Real daphne processes serving the app against the test database, for multi-process and browser tests.

Use from tests marked ``django_db(transaction=True)``: the processes see only committed data.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests import clock

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


class DaphneProcess:
    """daphne serving the test database. ``launcher=True`` starts it the way the Procfile does
    (``python -m agentwise.web``, options from settings); otherwise with fixed daphne options."""

    def __init__(self, *, env: dict | None = None, log_dir: Path | None = None, launcher: bool = False):
        self.launcher = launcher
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "agentwise.settings",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_DEBUG": "1",  # WhiteNoise then serves static files straight from the app folders
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.log_path = (log_dir or Path("/tmp")) / f"daphne-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> DaphneProcess:
        log = open(self.log_path, "w")  # noqa: SIM115 (owned by the process's lifetime)
        if self.launcher:
            args = ["agentwise.web", "--bind", "127.0.0.1"]
        else:
            args = ["daphne", "-b", "127.0.0.1", "-p", str(self.port),
                    "--websocket-max-message-size", "1048576", "agentwise.asgi:application"]
        self.process = subprocess.Popen(
            clock.command(*args),
            cwd=ROOT, env={**self.env, "PORT": str(self.port), **clock.clock_env()}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz/", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the process dies without cleaning up (no disconnect handlers run)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def session_cookie_for(user) -> str:
    """A freshly signed-in session for ``user`` saved in the test database; returns the session key."""
    from django.test import Client

    from tests.factories import sign_in

    client = sign_in(Client(), user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def ws_connect(server: DaphneProcess, raw_key: str):
    """A real websocket client on ``server``, authenticated by an API key, as a browser page would
    send it (with the server's own Origin)."""
    import websockets

    return await websockets.connect(
        server.ws_url, additional_headers={"Authorization": f"Bearer {raw_key}", "Origin": server.url}, open_timeout=10
    )


async def ws_frame(ws, predicate, timeout: float = 10) -> dict:
    """The next frame matching ``predicate``, skipping others; fails after ``timeout`` seconds."""
    import asyncio
    import json

    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("expected frame did not arrive in time")
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if predicate(frame):
            return frame
