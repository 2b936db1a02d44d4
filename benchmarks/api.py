"""API benchmark: the DRF endpoints against bare Django views doing the same database work, same run.

    python benchmarks/api.py [--projects 10000] [--requests 500]

Measures, in one process through the full middleware stack (django.test.Client, no network):
  A. GET /api/projects/?page_size=50 (of --projects projects)  vs  a bare view executing the SQL that
     request ran (captured once, replayed), serialising rows with json.
  B. POST /api/projects/<id>/executions/ (a finished run)       vs  a bare view parsing the JSON and
     calling the same domain function (projects.services.execution_record) — inserts cannot be
     replayed verbatim, so this baseline isolates the cost of the API layer (auth, DRF, serializers).
Prints requests/s, p50/p99 and queries per request for each, and the ratios. It uses its own throwaway
database: with DATABASE_URL=postgres://… it creates and drops `agentwise_bench` on that server;
otherwise a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import throwaway_database  # noqa: E402

# --- bare views (the baseline), routed next to the real URLs -----------------------------------

CAPTURED: dict[str, list[str]] = {}


def bare_projects(request):
    from django.db import connection
    from django.http import JsonResponse

    rows = []
    with connection.cursor() as cursor:
        for sql in CAPTURED["list"]:
            cursor.execute(sql)
            if cursor.description:
                columns = [c[0] for c in cursor.description]
                rows = [dict(zip(columns, row, strict=False)) for row in cursor.fetchall()]
    return JsonResponse({"results": rows}, json_dumps_params={"default": str})


def bare_execution(request, project_id):
    from django.http import JsonResponse

    from accounts.services import api_key_authenticate
    from projects import selectors, services

    api_key = api_key_authenticate(request.headers["Authorization"].split(" ", 1)[1])
    project = selectors.project_get_visible(user=api_key.user, project_id=project_id)
    data = json.loads(request.body)
    execution, _ = services.execution_record(actor=api_key.user, project=project, data=data)
    return JsonResponse({"id": str(execution.pk), "cost_micros": execution.cost_micros}, status=201)


def _urlpatterns():
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    return [
        path("bench/projects/", csrf_exempt(bare_projects)),
        path("bench/projects/<uuid:project_id>/executions/", csrf_exempt(bare_execution)),
        path("", include("agentwise.urls")),
    ]


# --- data and measurement ----------------------------------------------------------------------


def _seed(project_count: int):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.credentials import Credential
    from accounts.models import User
    from accounts.services import api_key_create
    from projects.models import Project

    user = User.objects.create_user(email="bench@example.com", username="bench", password="x" * 12)
    user.profile.subscription_tier = "enterprise"  # unlimited: no plan limit refuses the benchmark
    user.profile.save()
    now = timezone.now()
    batch = [
        Project(user=user, name=f"Project {i:05d}", type=("web", "cli", "data")[i % 3], tech_stack=["Python", "Django"])
        for i in range(project_count)
    ]
    Project.objects.bulk_create(batch, batch_size=2000)
    # Spread updated_at so ordering is real work (auto_now is bypassed by update()).
    for offset in range(0, project_count, 2000):
        ids = list(Project.objects.filter(user=user).order_by("name").values_list("pk", flat=True)[offset : offset + 2000])
        Project.objects.filter(pk__in=ids).update(updated_at=now - timedelta(minutes=offset))
    target = Project.objects.filter(user=user).order_by("-updated_at").first()
    raw_key = api_key_create(user=user, credential=Credential.console(), name="bench")[1]
    return raw_key, target


def _measure(fn, count: int) -> dict:
    from django.db import connection, reset_queries

    timings, queries = [], []
    for _ in range(count):
        reset_queries()
        started = time.perf_counter()
        response = fn()
        timings.append(time.perf_counter() - started)
        queries.append(len(connection.queries))
        assert response.status_code in (200, 201), (response.status_code, response.content[:300])
    timings.sort()
    total = sum(timings)
    return {
        "requests": count,
        "seconds": total,
        "rps": count / total,
        "p50": statistics.median(timings) * 1000,
        "p99": timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1000,
        "queries": statistics.median(queries),
    }


def _row(name, stats) -> str:
    return (
        f"  {name:<44} {stats['requests']:>6} {stats['rps']:>9.0f} {stats['p50']:>8.2f} {stats['p99']:>8.2f} "
        f"{stats['queries']:>5.0f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    database, cleanup = throwaway_database("agentwise_bench")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    try:
        print(f"Database: {database}. Migrating (dj-stripe's migrations take ~45 s)…", flush=True)
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"  migrated in {time.perf_counter() - started:.0f} s; seeding {args.projects:,} projects…", flush=True)
        raw_key, target = _seed(args.projects)

        module = type(sys)("bench_urls")
        module.urlpatterns = _urlpatterns()
        sys.modules["bench_urls"] = module
        with override_settings(ROOT_URLCONF="bench_urls", DEBUG=True, ALLOWED_HOSTS=["*"]):
            client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
            body = {"agent_type": "claude-code", "model": "claude-sonnet-4", "status": "completed",
                    "input_tokens": 12_000, "cached_input_tokens": 2_000, "output_tokens": 3_000, "tokens_saved": 5_000}

            def api_list():
                return client.get("/api/projects/", {"page_size": 50})

            with CaptureQueriesContext(connection) as captured:
                assert api_list().status_code == 200
            CAPTURED["list"] = [q["sql"] for q in captured.captured_queries]

            def bare_list():
                return client.get("/bench/projects/")

            def api_post():
                return client.post(f"/api/projects/{target.pk}/executions/", body, content_type="application/json")

            def bare_post():
                return client.post(f"/bench/projects/{target.pk}/executions/", body, content_type="application/json")

            for fn in (api_list, bare_list, api_post, bare_post):  # warm-up
                for _ in range(20):
                    fn()
            # Alternate in blocks so drift (caches, autovacuum) hits both sides alike.
            block = max(1, args.requests // 5)
            merged = {}
            for _ in range(5):
                for name, fn in [("api_list", api_list), ("bare_list", bare_list), ("api_post", api_post), ("bare_post", bare_post)]:
                    stats = _measure(fn, block)
                    merged.setdefault(name, []).append(stats)

        def combine(parts):
            count = sum(p["requests"] for p in parts)
            seconds = sum(p["seconds"] for p in parts)
            return {
                "requests": count,
                "seconds": seconds,
                "rps": count / seconds,
                "p50": statistics.median(p["p50"] for p in parts),
                "p99": max(p["p99"] for p in parts),
                "queries": statistics.median(p["queries"] for p in parts),
            }

        final = {name: combine(parts) for name, parts in merged.items()}
        print()
        print(f"Python {platform.python_version()}, Django {django.get_version()}, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.2f}; {database}; cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}")
        print(f"  {'path':<44} {'reqs':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'qry':>5}")
        print(_row("GET /api/projects/?page_size=50 (DRF)", final["api_list"]))
        print(_row("  bare Django view, same SQL replayed", final["bare_list"]))
        print(_row("POST /api/projects/<id>/executions/ (DRF)", final["api_post"]))
        print(_row("  bare Django view, same domain function", final["bare_post"]))
        for label, api, bare in [("list", "api_list", "bare_list"), ("report run", "api_post", "bare_post")]:
            print(f"  ratio {label}: throughput {final[api]['rps'] / final[bare]['rps']:.2f}x of bare, "
                  f"p50 {final[api]['p50'] / final[bare]['p50']:.2f}x, p99 {final[api]['p99'] / final[bare]['p99']:.2f}x")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
