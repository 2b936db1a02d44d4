"""Newsletter sending benchmark: Celery workers sending a campaign against a plain loop, same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/3 \\
        python benchmarks/newsletter.py [--subscribers 100000] [--workers 1 2 4]

Seeds --subscribers active subscribers, starts a local SMTP sink (benchmarks/smtp_sink.py, its own
process), then measures, each against a fresh sink:

  baseline  a plain loop in this process: one SMTP connection, Django's SMTP backend, one message per
            subscriber with the same HTML and text bodies and headers, no database, no claims;
  N workers real Celery worker processes (solo pool, one task at a time) on Redis, sending a campaign
            the way the admin's "Send now" does: the deliveries written in one INSERT … SELECT, the
            batches fanned out, every row claimed and marked sent, a personalised message rendered
            per recipient. Timed from "send" until the campaign is marked sent (workers already up).

Prints messages per second and total time for each, the ratio against the baseline (goal: at least
0.5x with one worker), and checks the sink got exactly one message per subscriber. Uses its own
throwaway database like benchmarks/api.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import throwaway_database  # noqa: E402

ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "benchmark-only-not-a-secret-" + "x" * 40,
    "DJANGO_SECURE_SSL_REDIRECT": "0",
    "DJANGO_ALLOWED_HOSTS": "testserver",
    "LOG_LEVEL": "WARNING",
    "SITE_URL": "https://agentwise.example",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    def __init__(self, folder: str):
        self.port = free_port()
        self.report = os.path.join(folder, f"sink-{self.port}.json")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "smtp_sink.py"), str(self.port), self.report],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def stop(self) -> dict:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        with open(self.report) as report:
            return json.load(report)


def seed(count: int) -> None:
    from django.utils import timezone

    from content.models import Subscriber

    now = timezone.now()
    batch = []
    for i in range(count):
        batch.append(Subscriber(email=f"reader{i:06d}@bench.example", status="active", source="admin", confirmed_at=now))
        if len(batch) == 5000:
            Subscriber.objects.bulk_create(batch)
            batch = []
    Subscriber.objects.bulk_create(batch)


def campaign_body() -> list:
    return [
        {"type": "heading", "level": 2, "text": "What changed this month"},
        {"type": "paragraph", "text": "Agents saved **42%** of their tokens after the cache change. " * 6},
        {"type": "code", "language": "bash", "text": "agentwise report --project demo --since 30d"},
        {"type": "paragraph", "text": "Read [the full post](/blog/) for the numbers and what we changed."},
    ]


def baseline(count: int, sink: Sink) -> float:
    """The floor: Django's SMTP backend called directly, one connection, prebuilt bodies."""
    from django.core.mail import EmailMultiAlternatives
    from django.core.mail.backends.smtp import EmailBackend

    from content.models import Campaign
    from content.newsletter import messages

    campaign = Campaign(pk=0, subject="Baseline", preheader="", content=campaign_body())
    sample = messages.compose(messages.campaign_body(campaign), campaign_id=0, email="x@bench.example", name="", subscriber_id=1)
    text, html, headers = sample.body, sample.alternatives[0][0], dict(sample.extra_headers)
    connection = EmailBackend(host="127.0.0.1", port=sink.port, timeout=30)
    started = time.perf_counter()
    with connection:
        for i in range(count):
            message = EmailMultiAlternatives("Baseline", text, "Agentwise <hello@agentwise.localhost>", [f"reader{i:06d}@bench.example"], headers=headers)
            message.attach_alternative(html, "text/html")
            connection.send_messages([message])
    return time.perf_counter() - started


def with_workers(workers: int, sink: Sink, folder: str, database_url: str) -> tuple[float, float]:
    """Returns (seconds to write the deliveries and fan out, seconds until the campaign is sent)."""
    import redis
    from django.conf import settings

    from agentwise.celery import app as celery_app
    from content.models import Campaign, CampaignStatus
    from content.newsletter import sending

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ, **ENV, "DATABASE_URL": database_url, "CELERY_QUEUE": queue,
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}", "DJANGO_SETTINGS_MODULE": "agentwise.settings",
    }
    processes = []
    for n in range(workers):
        log = open(os.path.join(folder, f"worker-{queue}-{n}.log"), "w")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "agentwise", "worker", "--pool", "solo", "--concurrency", "1",
             "--queues", queue, "--hostname", f"bench{n}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        ))
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        client = redis.Redis.from_url(settings.REDIS_URL)
        time.sleep(4)  # let the workers connect
        campaign = Campaign.objects.create(subject=f"Bench with {workers} worker(s)", content=campaign_body())
        started = time.perf_counter()
        sending.campaign_start(campaign_id=campaign.pk)
        fanned_out = time.perf_counter() - started
        while Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).get() != CampaignStatus.SENT:
            time.sleep(0.2)
        return fanned_out, time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        client.delete(queue)


def profile(sink_folder: str) -> None:
    """The sending loop of one worker, in this process, under cProfile: where a message's time goes."""
    import cProfile
    import pstats

    from django.core.mail.backends.smtp import EmailBackend

    from content.models import Campaign
    from content.newsletter import sending

    sink = Sink(sink_folder)
    campaign = Campaign.objects.create(subject="Profiled", content=campaign_body())
    sending.campaign_start(campaign_id=campaign.pk, fan_out=False)
    connection = EmailBackend(host="127.0.0.1", port=sink.port, timeout=30)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    while not sending.campaign_batch_send(campaign_id=campaign.pk, connection=connection, follow_up=False).finished:
        pass
    profiler.disable()
    seconds = time.perf_counter() - started
    sink.stop()
    print(f"  in-process sender under cProfile: {seconds:.1f} s")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--profile", action="store_true", help="Also send once in this process under cProfile.")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL is required: the workers need a broker.")

    os.environ.update(ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    database, cleanup = throwaway_database("agentwise_bench_newsletter")
    database_url = os.environ["DATABASE_URL"]
    import django

    django.setup()
    from django.core.management import call_command

    folder = tempfile.mkdtemp(prefix="agentwise-bench-newsletter-")
    results = []
    try:
        print(f"Database: {database}. Migrating (dj-stripe's migrations take ~45 s)…", flush=True)
        call_command("migrate", verbosity=0)
        print(f"  seeding {args.subscribers:,} subscribers…", flush=True)
        seed(args.subscribers)

        sink = Sink(folder)
        seconds = baseline(args.subscribers, sink)
        got = sink.stop()
        base_rate = args.subscribers / seconds
        results.append(("plain loop (SMTP backend directly)", seconds, base_rate, None, got))
        print(f"  baseline: {seconds:.1f} s, {base_rate:,.0f} msg/s", flush=True)
        if args.profile:
            profile(sink_folder=folder)
        for workers in args.workers:
            sink = Sink(folder)
            fan_out, seconds = with_workers(workers, sink, folder, database_url)
            got = sink.stop()
            results.append((f"{workers} Celery worker(s)", seconds, args.subscribers / seconds, fan_out, got))
            print(f"  {workers} worker(s): {seconds:.1f} s", flush=True)

        print()
        print(f"Python {platform.python_version()}, Django {django.get_version()}, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.2f}; {database}; {args.subscribers:,} subscribers; SMTP sink on 127.0.0.1")
        print(f"  {'sender':<36} {'total s':>8} {'msg/s':>8} {'x plain':>8} {'fan-out s':>10} {'received':>9} {'dupes':>6}")
        for label, seconds, rate, fan_out, got in results:
            fan = f"{fan_out:.2f}" if fan_out is not None else "-"
            print(f"  {label:<36} {seconds:>8.1f} {rate:>8,.0f} {rate / base_rate:>8.2f} {fan:>10} "
                  f"{got['recipients']:>9,} {got['duplicates']:>6}")
        exact = all(got["recipients"] == args.subscribers and got["duplicates"] == 0 for *_, got in results)
        print(f"  exactly one message per subscriber in every run: {'yes' if exact else 'NO'}")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
