"""The pieces fault tests start: their own redis-server, the one-command cluster, the devproxy, HTTP helpers.

Never the shared Redis: a test that kills Redis kills its own, on a free port.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

from tests import clock
from tests.live import ROOT, free_port, test_database_url


class RedisServer:
    """A redis-server of the test's own on a free port; ``kill()`` and ``start()`` again on the same port."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> RedisServer:
        log = open(self.log_path, "a")  # noqa: SIM115 (owned by the process's lifetime)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on {self.port}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


def service_env(redis_url: str, **extra: str) -> dict[str, str]:
    """What every process of the cluster gets: the test database, the test's Redis, debug static files."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "agentwise.settings",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": "agentwise",  # the test's own Redis: no one else's tasks to avoid
        "DJANGO_DEBUG": "1",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        **clock.clock_env(),
        **extra,
    }


class Cluster:
    """``python -m agentwise.cluster`` as the README says, on free ports, with the test's clock."""

    def __init__(self, *, redis_url: str, log_dir: Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.web_ports = [free_port(), free_port()]
        self.url = f"http://127.0.0.1:{self.port}"
        self.web_urls = [f"http://127.0.0.1:{port}" for port in self.web_ports]
        self.log_path = log_dir / "cluster.log"
        self.env = service_env(redis_url, **(env or {}))
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Cluster:
        python = f"{shlex.quote(sys.executable)} -m tests.clock"
        log = open(self.log_path, "w")  # noqa: SIM115 (owned by the process's lifetime)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agentwise.cluster", "--port", str(self.port),
             "--web-ports", ",".join(map(str, self.web_ports)), "--python", python],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the cluster exited early:\n{self.log()}")
            if all(_answers(url) for url in self.web_urls) and self.workers_ready() == 2 and _answers(self.url):
                return self
            time.sleep(0.25)
        raise RuntimeError(f"the cluster did not come up within {timeout}s:\n{self.log()}")

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text()[-tail:]
        except OSError:
            return ""

    def workers_ready(self) -> int:
        return self.log(10**7).count(" ready.")

    def lines(self, process: str) -> list[str]:
        """The log lines honcho prefixed with ``process`` (``worker.1``)."""
        return [line for line in self.log(10**8).splitlines() if f" {process} " in line[:30]]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # honcho sends SIGTERM to every process and waits for them
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class DevProxy:
    """``python -m agentwise.devproxy`` in front of the given backends (ports)."""

    def __init__(self, backends: list[int], log_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/"
        self.log_path = log_dir / f"devproxy-{self.port}.log"
        self.backends = backends
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> DevProxy:
        log = open(self.log_path, "w")  # noqa: SIM115 (owned by the process's lifetime)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agentwise.devproxy", "--host", "127.0.0.1", "--port", str(self.port),
             *[str(port) for port in self.backends]],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not _answers(self.url) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def http(method: str, url: str, *, key: str | None = None, body: dict | None = None, timeout: float = 15):
    """(status, headers, JSON body) of one request on a fresh connection; errors are answers, not raised."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = payload.decode(errors="replace")
        return error.code, error.headers, parsed


