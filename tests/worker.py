"""A real Celery worker process on Redis, sharing the test database, for tests that need one.

The test process stops running tasks eagerly and publishes to the worker's own queue, so runs of
several people on one Redis never take each other's tasks.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
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


@contextlib.contextmanager
def celery_worker(log_path: Path, **environ: str) -> Iterator[str]:
    """Starts a worker (``environ`` added to its environment) on a fresh queue; yields the queue name."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": queue,
        "DJANGO_SETTINGS_MODULE": "agentwise.settings",
        **environ,
    }
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            clock.command("celery", "--app", "agentwise", "worker", "--pool", "solo", "--queues", queue,
                          "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"),
            cwd=ROOT, env={**env, **clock.clock_env()}, stdout=log, stderr=subprocess.STDOUT,
        )
        celery_app.conf.task_always_eager = False
        celery_app.conf.task_default_queue = queue
        try:
            yield queue
        finally:
            celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
            process.terminate()
            process.wait(timeout=20)
            # A warm shutdown puts unfinished (e.g. ETA) tasks back on the queue: drop them with it.
            redis.Redis.from_url(settings.REDIS_URL).delete(queue)
