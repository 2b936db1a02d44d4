"""A real Celery worker process on Redis, sharing the test database, for tests that need one.

The test process stops running tasks eagerly and publishes to the worker's own queue, so runs of
several people on one Redis never take each other's tasks.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from agentwise.celery import app as celery_app
from tests import clock

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The test database, as the worker process must reach it."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def new_queue() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def publishing_to(queue: str) -> Iterator[str]:
    """This process publishes tasks to ``queue`` instead of running them eagerly; the queue is dropped
    at the end (a warm shutdown puts unfinished tasks, e.g. with an ETA, back on it)."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)


@contextlib.contextmanager
def worker_process(
    log_path: Path, queue: str, *, beat: bool = False, clock_ahead: timedelta | None = None, **environ: str
) -> Iterator[subprocess.Popen]:
    """A worker (``environ`` added to its environment) consuming ``queue``, one task at a time (no
    prefetching beyond it), with the beat scheduler inside it if ``beat``, its clock ``clock_ahead`` of
    this process's; yields its process, which a test may kill. Stopped (warm shutdown) at the end if it
    is still running."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": queue,
        "DJANGO_SETTINGS_MODULE": "agentwise.settings",
        **environ,
    }
    with open(log_path, "a") as log:
        arguments = ["--pool", "solo", "--concurrency", "1", "--queues", queue,
                     "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]
        if beat:
            arguments += ["--beat", "--schedule", str(log_path.with_name(f"beat-{queue}"))]
        process = subprocess.Popen(
            clock.command("celery", "--app", "agentwise", "worker", *arguments),
            cwd=ROOT, env={**env, **clock.clock_env(clock_ahead)}, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


@contextlib.contextmanager
def celery_worker(log_path: Path, **environ: str) -> Iterator[str]:
    """Starts a worker (``environ`` added to its environment) on a fresh queue; yields the queue name."""
    with publishing_to(new_queue()) as queue, worker_process(log_path, queue, **environ):
        yield queue


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    """Polls ``predicate`` until it holds or ``timeout`` seconds pass; its last answer (what a worker, a
    process or a mailbox got to in time)."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(interval)
    return bool(predicate())
