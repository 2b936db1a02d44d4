"""Forum search benchmark: GET /api/forum/posts/?q= against the raw full-text SQL query, same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/3 \\
        python benchmarks/forum_search.py [--topics 20000] [--replies 4] [--rounds 15] [--database NAME]

Seeds --topics topics in three forum channels (one private, the searching user a member) with about
--replies replies each (bulk_create), fills every search vector with the services' own statement
(``community.search.INDEX_SQL``; checked on a sample against ``forum_post_index``), VACUUM ANALYZE, then
runs a fixed set of queries, interleaved round after round, two ways:

  A. endpoint: GET /api/forum/posts/?q=… through the full middleware stack in this process
     (django.test.Client, signed in; production settings, DEBUG off): the filters, the rate limit, the
     count and the page of 25 (visibility, match, ts_rank, ORDER BY … LIMIT), the snippets of the page
     (ts_headline), reactions and memberships, the payloads (markdown rendered), DRF rendering.
  B. raw: the same tsquery against the same vectors, the visible forums' topics, ts_rank,
     ORDER BY … LIMIT 25 — no count, no snippet, no payload — sent by psycopg on its own connection:
     the floor any implementation pays.

Prints p50/p95 per side and the ratio A/B. PostgreSQL only. Uses its own throwaway database.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import throwaway_database  # noqa: E402

BENCH_DB = "agentwise_bench_forum"
SERVER_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "benchmark-only-not-a-secret-" + "x" * 40,
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_ALLOWED_HOSTS": "testserver",
    "API_THROTTLE_USER": "100000000/min",
    "API_THROTTLE_ANON": "100000000/min",
    "LOG_LEVEL": "ERROR",
}
WORDS = (
    "agent agents deploy deploying deployment daphne nginx proxy websocket socket timeout token tokens "
    "budget alert alerts invoice billing plan project projects key keys revoke rotate cli install "
    "configure configuration webhook webhooks docker container compose worker workers celery redis "
    "postgres database migration migrations prompt prompts model models tool tools call calls retry "
    "backoff error errors trace log logs metric metrics dashboard chart export csv import sso saml team"
).split()
FILLER = (
    "the a to of and in is it for on with that this my we you how what when why can not but "
    "just still after before every some any one two run runs ran works worked working try tried"
).split()
QUERIES = [
    "deploy",
    "daph",
    "nginx timeout",
    '"api key"',
    "revoke token",
    "budget alert",
    "deploy -docker",
    "websocket proxy",
    "celery retry backoff",
    "saml",
    "migrat",
    "export csv",
]


def _text(rng, low, high) -> str:
    words = [
        rng.choice(WORDS) if rng.random() < 0.35 else rng.choice(FILLER)
        for _ in range(rng.randint(low, high))
    ]
    if rng.random() < 0.1:
        words[len(words) // 2 : len(words) // 2] = ["api", "key"]
    return " ".join(words).capitalize() + "."


def _seed(topics: int, replies: int) -> dict:
    from django.db import connection

    from accounts.models import User
    from community.models import Channel, ChannelMember, ForumPost, ForumReply
    from community.search import INDEX_SQL, REPLIES_INDEX_CHARS, SEARCH_CONFIG

    rng = random.Random(7)
    reader = User.objects.create_user(username="reader", email="reader@example.com", password="x" * 20)
    author = User.objects.create_user(username="author", email="author@example.com", password="x" * 20)
    forums = [
        Channel.objects.create(name="help", type="forum"),
        Channel.objects.create(name="ideas", type="forum"),
        Channel.objects.create(name="staff-forum", type="forum", is_private=True),
        Channel.objects.create(name="hidden", type="forum", is_private=True),  # the reader is not a member
    ]
    ChannelMember.objects.create(channel=forums[2], user=reader)
    started = time.perf_counter()
    posts = [
        ForumPost(
            channel=forums[n % 4], author=author, title=_text(rng, 4, 10)[:200], content=_text(rng, 30, 150)
        )
        for n in range(topics)
    ]
    ForumPost.objects.bulk_create(posts, batch_size=2000)
    rows = [
        ForumReply(post=post, author=reader, content=_text(rng, 10, 80))
        for post in posts
        for _ in range(rng.randint(0, 2 * replies))
    ]
    ForumReply.objects.bulk_create(rows, batch_size=5000)
    ForumPost.objects.update(reply_count=0)
    insert = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(INDEX_SQL.format(where="TRUE"), [SEARCH_CONFIG] * 3 + [REPLIES_INDEX_CHARS])
    index = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE forum_posts")
        cursor.execute("VACUUM ANALYZE forum_replies")
    return {
        "reader": reader,
        "replies": len(rows),
        "insert": insert,
        "index": index,
        "vacuum": time.perf_counter() - started,
    }


def _check_index_matches_services(sample: int = 20) -> None:
    """The bulk statement and ``forum_post_index`` (what the services call) write the same vector."""
    from django.db import connection

    from community.models import ForumPost
    from community.search import forum_post_index

    for post_id in ForumPost.objects.order_by("?").values_list("pk", flat=True)[:sample]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT search_vector::text FROM forum_posts WHERE id = %s", [post_id])
            (before,) = cursor.fetchone()
            forum_post_index(post_id)
            cursor.execute("SELECT search_vector::text FROM forum_posts WHERE id = %s", [post_id])
            assert cursor.fetchone()[0] == before, (
                f"the bulk index differs from forum_post_index for {post_id}"
            )


def _raw_sql(q: str, raw, visible_channels) -> str:
    """The floor: the tsquery the endpoint uses, the visible forums, rank, sort, top 25."""
    from content.search import RANK_WEIGHTS, query_parse, tsquery_sql

    query, params = tsquery_sql(query_parse(q))
    with raw.cursor() as cursor:
        return cursor.mogrify(
            f"SELECT p.id, ts_rank(%s::float4[], p.search_vector, {query}) AS rank FROM forum_posts p "
            f"WHERE p.channel_id = ANY(%s) AND p.search_vector @@ {query} ORDER BY 2 DESC, 1 DESC LIMIT 25",
            [RANK_WEIGHTS, *params, visible_channels, *params],
        )


def _pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=20_000)
    parser.add_argument("--replies", type=int, default=4, help="average replies per topic")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--database", default=BENCH_DB)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("PostgreSQL only: set DATABASE_URL=postgres://… (the SQLite fallback is for development).")
    os.environ.update(SERVER_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    database, cleanup = throwaway_database(args.database)
    import django

    django.setup()
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from community.selectors import _channels_visible_to

    try:
        print(f"Database: {database}. Migrating (dj-stripe's migrations take ~45 s)…", flush=True)
        call_command("migrate", verbosity=0)
        seeded = _seed(args.topics, args.replies)
        print(
            f"  {args.topics:,} topics, {seeded['replies']:,} replies: bulk_create {seeded['insert']:.1f} s, "
            f"one UPDATE for every vector {seeded['index']:.1f} s, VACUUM ANALYZE {seeded['vacuum']:.1f} s",
            flush=True,
        )
        _check_index_matches_services()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('forum_posts')), "
                "pg_size_pretty(pg_relation_size('forum_post_search_idx')) "
            )
            table_size, index_size = cursor.fetchone()
        print(f"  forum_posts {table_size} (with TOAST and indexes), GIN index {index_size}")
        reader = seeded["reader"]
        visible = [
            str(pk) for pk in _channels_visible_to(reader).filter(type="forum").values_list("pk", flat=True)
        ]
        rates = {**settings.RATE_LIMITS, "content.search": "1000000/second"}
        with override_settings(RATE_LIMITS=rates):
            client = Client()
            client.force_login(reader)
            raw = psycopg.connect(
                os.environ["DATABASE_URL"], autocommit=True, cursor_factory=psycopg.ClientCursor
            )
            statements = {q: _raw_sql(q, raw, visible) for q in QUERIES}
            counts, queries = {}, {}
            for q in QUERIES:  # warm up, and what each search finds
                with CaptureQueriesContext(connection) as captured:
                    response = client.get("/api/forum/posts/", {"q": q})
                assert response.status_code == 200, response.content[:300]
                counts[q], queries[q] = response.json()["count"], len(captured.captured_queries)
                with raw.cursor() as cursor:
                    cursor.execute(statements[q])
            timings = {q: {"A": [], "B": []} for q in QUERIES}
            for round_ in range(args.rounds):
                for q in QUERIES:
                    for side in "AB" if round_ % 2 == 0 else "BA":
                        started = time.perf_counter()
                        if side == "A":
                            assert client.get("/api/forum/posts/", {"q": q}).status_code == 200
                        else:
                            with raw.cursor() as cursor:
                                cursor.execute(statements[q])
                                cursor.fetchall()
                        timings[q][side].append((time.perf_counter() - started) * 1000)
        print(f"\n{args.rounds} rounds; ms; A = endpoint (page of 25 with snippets), B = raw ranked query\n")
        print(
            f"{'query':<24} {'matches':>8} {'SQL':>4} {'A p50':>8} {'A p95':>8} {'B p50':>8} {'B p95':>8} {'A/B p50':>8}"
        )
        every = {"A": [], "B": []}
        for q in QUERIES:
            a, b = timings[q]["A"], timings[q]["B"]
            every["A"] += a
            every["B"] += b
            print(
                f"{q:<24} {counts[q]:>8,} {queries[q]:>4} {statistics.median(a):>8.2f} {_pct(a, 95):>8.2f} "
                f"{statistics.median(b):>8.2f} {_pct(b, 95):>8.2f} {statistics.median(a) / statistics.median(b):>7.1f}×"
            )
        a, b = every["A"], every["B"]
        print(
            f"\nall: endpoint p50 {statistics.median(a):.2f} p95 {_pct(a, 95):.2f} ms; raw p50 "
            f"{statistics.median(b):.2f} p95 {_pct(b, 95):.2f} ms; ratio p50 {statistics.median(a) / statistics.median(b):.1f}×, "
            f"p95 {_pct(a, 95) / _pct(b, 95):.1f}×"
        )
        raw.close()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
