"""Shared by the benchmarks: a throwaway database so a run never touches real data."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from urllib.parse import urlparse


def throwaway_database(name: str) -> tuple[str, Callable[[], None]]:
    """Points DATABASE_URL at a fresh database; returns a description and a cleanup function.

    With DATABASE_URL=postgres://… it creates (and later drops) ``name`` on that server; otherwise it
    uses a temporary SQLite file.
    """
    _forget_bot_blocks()
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parsed = urlparse(url)
        admin = parsed._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            template = os.environ.get("BENCHMARK_TEMPLATE_DATABASE")
            conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        os.environ["DATABASE_URL"] = parsed._replace(path=f"/{name}").geturl()

        def cleanup():
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

        return f"PostgreSQL ({parsed.hostname}:{parsed.port or 5432}/{name})", cleanup
    folder = tempfile.mkdtemp(prefix="agentwise-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    return f"SQLite ({folder}/bench.sqlite3)", lambda: None


def _forget_bot_blocks() -> None:
    """Bot detection's state in Redis (``bots:*`` under the cache's key prefix: windows, blocks, the allow
    list's cache) outlives the throwaway database it was about: a previous benchmark's 500 handshakes from
    127.0.0.1 would block this one's first request (429). Only those keys; the rest of that Redis
    database is left alone."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url)
    stale = list(client.scan_iter("*bots:*", count=1000))
    if stale:
        client.delete(*stale)


# The environment a benchmark's own server processes run with: production settings on 127.0.0.1, and chat
# limits raised so the flood limit does not refuse the benchmark's load. The seeded users are brand new,
# so the new-account limit (10 posts an hour) would refuse a sender's 11th message: they post as
# established members (MODERATION_NEW_USER_DAYS 0), whose posts skip that limit's hourly count.
SERVER_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "benchmark-only-not-a-secret-" + "x" * 40,
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "COMMUNITY_POST_RATE_MESSAGES": "1000",
    "MODERATION_NEW_USER_DAYS": "0",
    "LOG_LEVEL": "WARNING",
}
