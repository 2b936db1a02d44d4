"""Read-only after a downgrade, in the projects list: the cost of knowing each row's place, same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        python benchmarks/plan_place.py [--projects 100 1000 5000] [--rounds 30] [--page 100]

An owner with --projects active projects (and a collaborator's few) lists a page of --page projects, three
ways, interleaved round after round:

  A. bare: the list query alone (visibility, viewer role, owner's profile) — no plan information: the floor.
  B. per-row count (before): each row annotated in the list's SQL with a correlated count of its owner's
     active projects created before it (``projects_annotate_plan_place``), then ``project_writable`` per row.
  C. per page (now): the list query, then ``projects_note_plan_place`` (one GROUP BY count of the page's
     owners' active projects; a second query only when an owner is over their limit), then ``project_writable``.

Each size runs twice: the owner within their plan (Pro's 50 projects or fewer, else Enterprise: no limit) and
over it (Free: 3). Prints p50/p99 per way in ms and B and C as multiples of A. PostgreSQL only; its own
throwaway database (benchmarks/common.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import SERVER_ENV, throwaway_database  # noqa: E402

BENCH_DB = "agentwise_bench_plan_place"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--database", default=BENCH_DB, help="the throwaway database's name (one per person)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("PostgreSQL only: set DATABASE_URL=postgres://… (the SQLite fallback is for development).")
    os.environ.update(SERVER_ENV)
    os.environ.pop("REDIS_URL", None)  # the plan limits cache in memory: this measures SQL, not Redis
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    database, cleanup = throwaway_database(args.database)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from billing import limits
    from projects import selectors
    from projects.models import Project

    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {database}")
    call_command("migrate", verbosity=0)
    try:
        owner = User.objects.create_user(username="owner", email="owner@example.com", password="x")
        start = timezone.now()
        made = 0
        for size in sorted(args.projects):
            Project.objects.bulk_create(
                Project(user=owner, name=f"P{index}", created_at=start + timezone.timedelta(seconds=index))
                for index in range(made, size)
            )
            made = size
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            for situation, tier in (("within", "pro" if size <= 50 else "enterprise"), ("over", "free")):
                owner.profile.subscription_tier = tier
                owner.profile.save(update_fields=["subscription_tier"])
                owner.refresh_from_db()
                limits.plan_limits_for(owner)  # cached, as in production

                def bare():
                    return list(selectors.project_list_visible_to(user=owner)[: args.page])

                def per_row():
                    page = list(limits.projects_annotate_plan_place(selectors.project_list_visible_to(user=owner))[: args.page])
                    memo: dict = {}
                    return [limits.project_writable(project, memo=memo) for project in page]

                def per_page():
                    page = list(selectors.project_list_visible_to(user=owner)[: args.page])
                    memo: dict = {}
                    limits.projects_note_plan_place(page, memo=memo)
                    return [limits.project_writable(project, memo=memo) for project in page]

                assert per_row() == per_page(), "the two ways disagree"
                timings = {"bare": [], "per-row count": [], "per page": []}
                ways = [("bare", bare), ("per-row count", per_row), ("per page", per_page)]
                for round_ in range(args.rounds):
                    for name, way in ways[round_ % 3 :] + ways[: round_ % 3]:
                        began = time.perf_counter()
                        way()
                        timings[name].append((time.perf_counter() - began) * 1000)
                base = statistics.median(timings["bare"])
                print(f"\n{size:,} projects, owner {situation} their plan ({tier}), page of {args.page}:")
                for name, values in timings.items():
                    p50, p99 = statistics.median(values), percentile(values, 0.99)
                    print(f"  {name:<14} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  {p50 / base:6.2f}x bare")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
