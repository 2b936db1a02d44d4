"""Docs search benchmark: GET /api/docs/search/ against the raw full-text SQL query, same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/3 \\
        python benchmarks/search.py [--pages 100000] [--rounds 25] [--explain] [--database NAME]

Seeds --pages docs pages in three versions (bulk_create, then one UPDATE that computes
``search_content`` and the weighted vector in SQL exactly as ``content.search.documentation_index``
does — checked on a sample), VACUUM FULL ANALYZE, then runs a fixed set of realistic queries, interleaved
round after round, three ways (each taking first, second and last place in turn, see TRIO_ORDERS):

  A. endpoint: GET /api/docs/search/?q=… through the full middleware stack in this process
     (django.test.Client, no network; production settings, DEBUG off): parsing, the rate limit and the
     versions list (one Redis round trip each), the search statement (match, ts_rank, ORDER BY …
     LIMIT 10, then ts_headline and the path of the rows shown), DRF rendering.
  B. raw: the same tsquery, the same WHERE, ts_rank, ORDER BY and LIMIT — no snippet, no paths —
     built by the ORM independently of the endpoint's statement and sent by psycopg directly on its
     own connection: the floor any implementation pays.
  C. raw + headline: the endpoint's own search statement replayed by psycopg, to split the database's
     work from the application's.

Prints p50/p95/p99 over all requests and per query, and the differences (goal: endpoint p95 within
10 ms of raw), also request by request (A minus the B run next to it, same query: steadier than a
difference of two percentiles). PostgreSQL only (the SQLite fallback is for development). Uses its
own throwaway database like benchmarks/api.py; ``--database`` names it.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import throwaway_database  # noqa: E402

BENCH_DB = "agentwise_bench_search"
SERVER_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "benchmark-only-not-a-secret-" + "x" * 40,
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_ALLOWED_HOSTS": "testserver",
    "API_THROTTLE_ANON": "100000000/min",
    "LOG_LEVEL": "ERROR",
}

# What people type into a docs search box: single words, two-word topics, half-typed words (the
# last word is a prefix), phrases, exclusions; rare and very common words (``agentwise`` is on most
# pages: the worst case, every match ranked).
QUERIES = [
    "install",
    "instal",
    "install cli",
    "configure webhook",
    "api key",
    '"api key"',
    "revoke token",
    "budget alert",
    "deploy -docker",
    "proxy",
    "rate limit",
    "agentwise",
    "project settings",
    "settin",
    "configura",
    "heartbeat socket",
    "sso saml",
    "export invoice",
    "retry backoff",
    "pipeline runner secret",
]

VERBS = (
    "install configure deploy upgrade monitor debug migrate export import schedule invite revoke limit "
    "rotate retry stream cache sign verify connect authenticate audit archive restore rename share"
).split()
NOUNS = (
    "cli webhook project execution token budget plan team channel socket agent model proxy sso invoice "
    "workspace runner pipeline secret key alert limit report usage cache session role permission "
    "backup region cluster dashboard metric log trace heartbeat message thread reaction attachment"
).split()
COMMON = (
    "agentwise run runs command commands option options flag flags value values default defaults set "
    "sets setting settings file files path directory environment variable variables config "
    "configuration configured configuring request requests response responses error errors status "
    "code codes example examples page pages user users account accounts admin staff member members "
    "create created creating update updated delete deleted list lists read write access allow "
    "allowed deny denied time minute minutes hour hours day days month monthly limit limits rate "
    "retry retries backoff timeout connection connect connected server client header headers body "
    "json field fields type types version versions release releases upgrade install installed "
    "installation installing api key keys secret secrets token tokens bearer auth authentication "
    "login logout password email notification notifications budget budgets cost costs spend usage "
    "meter metering plan plans free pro enterprise team teams project projects execution executions "
    "model models agent agents claude tokens cached input output saved savings socket websocket "
    "heartbeat ping pong presence typing channel channels message messages thread threads docker "
    "kubernetes linux macos windows python pip node npm shell bash terminal proxy https tls "
    "certificate webhook webhooks signature payload event events deliver delivery retry queue "
    "worker workers celery redis postgres database backup restore export import csv report reports "
    "dashboard chart charts usage history audit log logs trace traces metric metrics alert alerts "
    "threshold sso saml oidc role roles permission permissions invite invitation owner editor viewer "
    "pipeline pipelines runner runners cluster region latency throughput scale scaling cache caching"
).split()
STOP = "the a an and or of to in on for with is are be by it this that as at from you your can will".split()


# The order of the three runs of one query, in turn. The first to run a query reads its pages into
# the caches after other queries pushed them out, and takes ~7–12% longer than the second (measured
# here): each side must take each place equally often, or the comparison leans towards the one that
# never goes first.
TRIO_ORDERS = ["".join(p) for p in itertools.permutations("ABC")]


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """Docs words first (frequent), then 20,000 made-up identifiers (rare): a Zipf-like lexicon;
    returns the words and their cumulative weights (for random.choices)."""
    syllables = "ka lo mi ne po ru sa ti vo xe za bri cor dex fen gul hap jit kov lum".split()
    made_up = {
        "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) + rng.choice(["", "d", "s", "er"])
        for _ in range(26_000)
    }
    words = STOP + COMMON + sorted(made_up - set(COMMON))[:20_000]
    weights = [8.0] * len(STOP) + [1.0 / (1 + i / 25) for i in range(len(words) - len(STOP))]
    return words, list(itertools.accumulate(weights))


def _sentence(rng, words, weights, low, high) -> str:
    return " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(low, high))).capitalize() + "."


def _content(rng, words, weights, title) -> list[dict]:
    blocks = [
        {"type": "paragraph", "text": " ".join(_sentence(rng, words, weights, 8, 18) for _ in range(3))}
    ]
    for _ in range(rng.randint(2, 4)):
        blocks.append(
            {"type": "heading", "text": f"{rng.choice(VERBS).title()} {rng.choice(NOUNS)}", "level": 2}
        )
        for _ in range(rng.randint(1, 2)):
            blocks.append(
                {
                    "type": "paragraph",
                    "text": " ".join(_sentence(rng, words, weights, 8, 18) for _ in range(3)),
                }
            )
        if rng.random() < 0.3:
            blocks.append(
                {
                    "type": "code",
                    "language": "bash",
                    "text": f"agentwise {rng.choice(VERBS)} --{rng.choice(NOUNS)} {rng.choice(words)}",
                }
            )
    return blocks


def _seed(page_count: int) -> dict:
    """Pages in versions latest (half), 2.0 and 1.0, in a three-level tree; 2% unpublished."""
    from django.db import connection
    from django.utils.text import slugify

    from content.models import Documentation

    rng = random.Random(8)
    words, weights = _vocabulary(rng)
    split = {"latest": page_count // 2, "2.0": page_count * 3 // 10}
    split["1.0"] = page_count - sum(split.values())
    started = time.perf_counter()
    for version, count in split.items():
        sections = max(10, count // 1000)
        groups = count // 10
        levels = [(sections, None), (groups, "sections"), (count - sections - groups, "groups")]
        made: dict[str, list] = {"sections": [], "groups": []}
        serial = 0
        for size, parent_level in levels:
            batch = []
            for _ in range(size):
                serial += 1
                title = f"{rng.choice(VERBS).title()} {rng.choice(NOUNS)}"
                if rng.random() < 0.5:
                    title += f" for {rng.choice(NOUNS)}s"
                parent = rng.choice(made[parent_level]) if parent_level else None
                batch.append(
                    Documentation(
                        title=title,
                        slug=f"{slugify(title)}-{serial}",
                        version=version,
                        parent_id=parent,
                        position=serial,
                        is_published=rng.random() >= 0.02,
                        content=_content(rng, words, weights, title),
                    )
                )
            created = Documentation.objects.bulk_create(batch, batch_size=5000)
            if parent_level is None:
                made["sections"] = [p.pk for p in created]
            elif parent_level == "sections":
                made["groups"] = [p.pk for p in created]
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # What documentation_index computes per page, for every page in one statement.
        cursor.execute(
            """
            UPDATE documentation d SET
                search_content = d.title || COALESCE(E'\\n' || t.everything, ''),
                search_vector = setweight(to_tsvector('english', d.title), 'A')
                    || setweight(to_tsvector('english', COALESCE(t.headings, '')), 'B')
                    || setweight(to_tsvector('english', COALESCE(t.body, '')), 'C')
            FROM (
                SELECT id,
                    string_agg(b ->> 'text', E'\\n' ORDER BY n) AS everything,
                    string_agg(b ->> 'text', E'\\n' ORDER BY n) FILTER (WHERE b ->> 'type' = 'heading') AS headings,
                    string_agg(b ->> 'text', E'\\n' ORDER BY n) FILTER (WHERE b ->> 'type' <> 'heading') AS body
                FROM documentation, jsonb_array_elements(content) WITH ORDINALITY AS x(b, n)
                GROUP BY id
            ) t
            WHERE d.id = t.id
            """
        )
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # VACUUM FULL: the UPDATE left a dead copy of every row; a live table is compact.
        cursor.execute("VACUUM FULL ANALYZE documentation")
    vacuumed = time.perf_counter() - started
    return {"insert": inserted, "index": indexed, "vacuum": vacuumed, "split": split}


def _check_index_matches_services(sample: int = 30) -> None:
    """The SQL UPDATE must store what documentation_index (the services' path) stores."""
    from django.db import connection

    from content.models import Documentation
    from content.search import documentation_index

    pages = list(Documentation.objects.order_by("?")[:sample])
    with connection.cursor() as cursor:
        for page in pages:
            cursor.execute(
                "SELECT search_content, search_vector::text FROM documentation WHERE id = %s", [page.pk]
            )
            before = cursor.fetchone()
            documentation_index(page)
            cursor.execute(
                "SELECT search_content, search_vector::text FROM documentation WHERE id = %s", [page.pk]
            )
            assert cursor.fetchone() == before, f"bulk index differs from documentation_index for {page.pk}"


def _raw_statements(query: str, limit: int) -> tuple[str, str]:
    """(B) the bare full-text statement and (C) the endpoint's own statement, as literal SQL."""
    from django.contrib.postgres.search import SearchRank
    from django.db import connection
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    from content import search, selectors
    from content.models import Documentation

    tsquery = search.postgres_query(search.query_parse(query))
    bare = (
        Documentation.objects.filter(version="latest", is_published=True, search_vector=tsquery)
        .annotate(rank=SearchRank(F("search_vector"), tsquery, weights=search.RANK_WEIGHTS))
        .order_by("-rank", "title", "pk")
        .values("pk", "title", "version", "rank")[:limit]
    )
    with CaptureQueriesContext(connection) as captured:
        list(bare)
    (bare_sql,) = [q["sql"] for q in captured.captured_queries]
    with CaptureQueriesContext(connection) as captured:
        selectors.documentation_search(query=query, version="latest", limit=limit)
    (full_sql,) = [q["sql"] for q in captured.captured_queries if "ts_headline" in q["sql"]]
    return bare_sql, full_sql


def _percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(p):
        return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))] * 1000

    return {
        "n": len(ordered),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "mean": statistics.mean(ordered) * 1000,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--limit", type=int, default=10, help="results per search (the API's default: 10)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the slowest query")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (for --reuse)")
    parser.add_argument("--reuse", action="store_true", help="measure a database an earlier --keep run left")
    parser.add_argument(
        "--order",
        choices=["rotate", "fixed"],
        default="rotate",
        help="rotate: A, B and C each run first, second and last equally often; fixed: ABC then CBA, "
        "B always second (the figures of 2026-12-02 and before)",
    )
    parser.add_argument(
        "--database",
        default=BENCH_DB,
        help=f"the throwaway database's name (default {BENCH_DB}; one per person)",
    )
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("PostgreSQL only: set DATABASE_URL=postgres://… (the SQLite fallback is for development).")
    os.environ.update(SERVER_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    if args.reuse:
        from urllib.parse import urlparse

        parsed = urlparse(os.environ["DATABASE_URL"])
        os.environ["DATABASE_URL"] = parsed._replace(path=f"/{args.database}").geturl()
        database, cleanup = (
            f"PostgreSQL ({parsed.hostname}:{parsed.port or 5432}/{args.database}, reused)",
            lambda: None,
        )
    else:
        database, cleanup = throwaway_database(args.database)
    import django

    django.setup()
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    try:
        if not args.reuse:
            print(f"Database: {database}. Migrating (dj-stripe's migrations take ~45 s)…", flush=True)
            started = time.perf_counter()
            call_command("migrate", verbosity=0)
            print(
                f"  migrated in {time.perf_counter() - started:.0f} s; seeding {args.pages:,} docs pages…",
                flush=True,
            )
            seeded = _seed(args.pages)
            print(
                f"  bulk_create {seeded['insert']:.1f} s, one UPDATE for content and vectors {seeded['index']:.1f} s, "
                f"VACUUM FULL ANALYZE {seeded['vacuum']:.1f} s; versions {seeded['split']}",
                flush=True,
            )
            _check_index_matches_services()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('documentation')), "
                "pg_size_pretty(pg_relation_size('documentation_search_idx')), "
                "avg(pg_column_size(search_vector))::int, avg(pg_column_size(search_content))::int FROM documentation"
            )
            table_size, index_size, vector_bytes, content_bytes = cursor.fetchone()
        print(
            f"  table {table_size}, GIN index {index_size}; per page: vector {vector_bytes} B, "
            f"search_content {content_bytes} B (stored, compressed)"
        )

        rates = {**settings.RATE_LIMITS, "content.search": "1000000/second"}
        with override_settings(RATE_LIMITS=rates):
            client = Client()
            statements = {q: _raw_statements(q, args.limit) for q in QUERIES}
            raw = psycopg.connect(
                os.environ["DATABASE_URL"], autocommit=True, cursor_factory=psycopg.ClientCursor
            )
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM documentation WHERE version = 'latest' AND is_published")
                (latest_pages,) = cursor.fetchone()
            matches = {}
            for q in QUERIES:
                count_sql = statements[q][0].split(" ORDER BY ")[0]
                with raw.cursor() as cursor:
                    cursor.execute(f"SELECT count(*) FROM ({count_sql}) m")
                    matches[q] = cursor.fetchone()[0]

            def endpoint(q):
                response = client.get("/api/docs/search/", {"q": q, "limit": args.limit})
                assert response.status_code == 200, (response.status_code, response.content[:300])
                return response

            def run_raw(sql):
                with raw.cursor() as cursor:
                    cursor.execute(sql)
                    return cursor.fetchall()

            # The endpoint and the bare statement must find the same pages in the same order.
            for q in QUERIES:
                api_titles = [r["title"] for r in endpoint(q).json()["results"]]
                raw_titles = [row[1] for row in run_raw(statements[q][0])]
                assert api_titles == raw_titles, (q, api_titles[:5], raw_titles[:5])

            for _ in range(3):  # warm-up: caches, connections, the planner's statistics
                for q in QUERIES:
                    endpoint(q)
                    run_raw(statements[q][0])
                    run_raw(statements[q][1])
            timings: dict[str, dict[str, list[float]]] = {side: {q: [] for q in QUERIES} for side in "ABC"}
            load_before = os.getloadavg()[0]
            for round_number in range(args.rounds):
                order = list(QUERIES)
                random.Random(round_number).shuffle(order)
                for q in order:
                    run = {
                        "A": functools.partial(endpoint, q),
                        "B": functools.partial(run_raw, statements[q][0]),
                        "C": functools.partial(run_raw, statements[q][1]),
                    }
                    if args.order == "fixed":
                        sides = "CBA" if round_number % 2 else "ABC"
                    else:
                        # per query, the six orders in turn round after round: each place equally often
                        sides = TRIO_ORDERS[(round_number + QUERIES.index(q)) % len(TRIO_ORDERS)]
                    for side in sides:
                        fn = run[side]
                        started = time.perf_counter()
                        fn()
                        timings[side][q].append(time.perf_counter() - started)
            raw.close()

        overall = {side: _percentiles([t for q in QUERIES for t in timings[side][q]]) for side in "ABC"}
        print()
        print(
            f"Python {platform.python_version()}, Django {django.get_version()}, PostgreSQL "
            f"{connection.cursor().connection.info.server_version}, {os.cpu_count()} CPUs, load "
            f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}; {args.pages:,} pages ({latest_pages:,} published in the searched "
            f"version); {len(QUERIES)} queries x {args.rounds} rounds; LIMIT {args.limit}; order {args.order}"
        )
        print(f"  {'':<44} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
        labels = {
            "A": "A. GET /api/docs/search/ (Django test client)",
            "B": "B. raw full-text SQL (psycopg)",
            "C": "C. raw SQL + ts_headline (endpoint's stmt)",
        }
        for side in "ABC":
            s = overall[side]
            print(
                f"  {labels[side]:<44} {s['n']:>5} {s['p50']:>8.2f} {s['p95']:>8.2f} {s['p99']:>8.2f} {s['mean']:>8.2f}"
            )
        a, b = overall["A"], overall["B"]
        print(
            f"  endpoint - raw: p50 +{a['p50'] - b['p50']:.2f} ms, p95 +{a['p95'] - b['p95']:.2f} ms, "
            f"p99 +{a['p99'] - b['p99']:.2f} ms (goal: p95 within 10 ms); ratio p95 {a['p95'] / b['p95']:.2f}x"
        )
        paired = _percentiles(
            [ta - tb for q in QUERIES for ta, tb in zip(timings["A"][q], timings["B"][q], strict=True)]
        )
        print(
            f"  endpoint - raw, request by request (same query, back to back): p50 +{paired['p50']:.2f} ms, "
            f"p95 +{paired['p95']:.2f} ms, mean +{paired['mean']:.2f} ms"
        )
        print()
        print(
            f"  {'query':<26} {'matches':>8} {'A p50':>8} {'B p50':>8} {'C p50':>8} {'A-B p50':>8} {'A p95':>8} {'B p95':>8}"
        )
        for q in sorted(QUERIES, key=lambda q: -matches[q]):
            per = {side: _percentiles(timings[side][q]) for side in "ABC"}
            print(
                f"  {q:<26} {matches[q]:>8,} {per['A']['p50']:>8.2f} {per['B']['p50']:>8.2f} {per['C']['p50']:>8.2f} "
                f"{per['A']['p50'] - per['B']['p50']:>+8.2f} {per['A']['p95']:>8.2f} {per['B']['p95']:>8.2f}"
            )
        if args.explain:
            slowest = max(QUERIES, key=lambda q: statistics.median(timings["A"][q]))
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statements[slowest][1])
                print(f"\nEXPLAIN ANALYZE, endpoint statement for {slowest!r}:")
                for (line,) in cursor.fetchall():
                    print("  " + line)
    finally:
        if not args.keep:
            cleanup()


if __name__ == "__main__":
    main()
