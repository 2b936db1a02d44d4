"""Load benchmark: a mixed workload against a running site for a fixed time.

    python benchmarks/load.py [--seconds 60] [--http-workers 8] [--ws-clients 50] [--senders 5]
    python benchmarks/load.py --base-url http://127.0.0.1:8000 --pid 1234 --pid 1235   # a running cluster

Without --base-url it creates a throwaway database (like benchmarks/api.py), migrates it and starts one
daphne the way the Procfile does (``python -m agentwise.web``, production settings, DEBUG off). With
--base-url it drives that site instead: the users, keys and channel are seeded through DATABASE_URL,
which must then be the site's own database, and --pid names the server processes to watch.

The workload, for --seconds:
  * --http-workers threads, each with its own user, API key and session, looping over a weighted mix:
    pages (home, pricing, the projects page, a project page; signed in), API reads (projects list, one
    project, usage), API writes (report a finished agent run, rename a project);
  * --ws-clients websocket clients in one chat channel, --senders of them sending one message a second;
    every message must reach every socket.
Prints requests/s, p50 and p99 per kind and overall, the error count (any status other than the
expected one, any exception, any websocket error frame or undelivered message: must be 0), chat
delivery latency, and the peak RSS (VmHWM) of each server process and of this load generator.
Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import SERVER_ENV, throwaway_database  # noqa: E402

# (kind, weight): what one worker picks each turn.
MIX = [
    ("page: home", 8), ("page: pricing", 4), ("page: projects", 8), ("page: project", 5),
    ("api: list projects", 25), ("api: get project", 15), ("api: usage", 5),
    ("api: report run", 20), ("api: rename project", 10),
]


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)] if sorted_values else float("nan")


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM), in MB; None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --- seeding -----------------------------------------------------------------------------------------


def seed(http_workers: int, ws_clients: int) -> dict:
    """One user per HTTP worker (key, session, a project) and per chat client (key), one channel."""
    from datetime import timedelta

    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from accounts.credentials import Credential
    from accounts.models import User
    from accounts.services import api_key_create
    from community.models import Channel
    from projects.models import Project
    from tests.factories import sign_in

    tag = f"{os.getpid()}-{int(time.time())}"
    workers = []
    for i in range(http_workers):
        user = User.objects.create_user(email=f"load{i}-{tag}@example.com", username=f"load{i}_{tag}"[:30], password=None)
        user.profile.subscription_tier = "enterprise"  # no plan limit refuses the benchmark
        user.profile.save()
        projects = Project.objects.bulk_create(
            Project(user=user, name=f"Load {i} project {n}", type="web", tech_stack=["Python"]) for n in range(30)
        )
        key = api_key_create(user=user, credential=Credential.console(), name="load")[1]
        session = sign_in(Client(), user).cookies[settings.SESSION_COOKIE_NAME].value
        workers.append({"key": key, "session": session, "project": str(projects[0].pk)})
    channel = Channel.objects.create(name=f"load-{tag}"[:100], category="Benchmark")
    chatters, chat_users = [], []
    for i in range(ws_clients):
        user = User.objects.create_user(email=f"chat{i}-{tag}@example.com", username=f"chat{i}_{tag}"[:30], password=None)
        chat_users.append(user.pk)
        chatters.append(api_key_create(user=user, credential=Credential.console(), name="load")[1])
    # Established members: new accounts may post only a few times an hour (moderation's trust level 0).
    User.objects.filter(pk__in=chat_users).update(date_joined=timezone.now() - timedelta(days=365))
    return {"workers": workers, "channel": str(channel.pk), "chatters": chatters,
            "session_cookie": settings.SESSION_COOKIE_NAME}


# --- HTTP workers ------------------------------------------------------------------------------------


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.timings: dict[str, list[float]] = {}
        self.errors: list[str] = []

    def add(self, kind: str, seconds: float, error: str | None = None):
        with self.lock:
            self.timings.setdefault(kind, []).append(seconds)
            if error:
                self.errors.append(f"{kind}: {error}")


def http_worker(base_url: str, seed_data: dict, worker: dict, stop: threading.Event, results: Results, rng_seed: int):
    import requests

    rng = random.Random(rng_seed)
    kinds, weights = zip(*MIX, strict=True)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {worker['key']}"
    browser = requests.Session()
    browser.headers["Cookie"] = f"{seed_data['session_cookie']}={worker['session']}"  # Secure cookie over http
    project = worker["project"]
    run = {"agent_type": "claude-code", "model": "claude-sonnet-4", "status": "completed",
           "input_tokens": 12_000, "cached_input_tokens": 2_000, "output_tokens": 3_000, "tokens_saved": 5_000}
    n = 0
    while not stop.is_set():
        kind = rng.choices(kinds, weights)[0]
        n += 1
        session, method, path, body = {
            "page: home": (browser, "GET", "/", None),
            "page: pricing": (browser, "GET", "/pricing/", None),
            "page: projects": (browser, "GET", "/projects/", None),
            "page: project": (browser, "GET", f"/projects/{project}/", None),
            "api: list projects": (api, "GET", "/api/projects/?page_size=25", None),
            "api: get project": (api, "GET", f"/api/projects/{project}/", None),
            "api: usage": (api, "GET", "/api/usage/", None),
            "api: report run": (api, "POST", f"/api/projects/{project}/executions/", run),
            "api: rename project": (api, "PATCH", f"/api/projects/{project}/", {"name": f"Renamed {n}"}),
        }[kind]
        expected = 201 if kind == "api: report run" else 200
        started = time.perf_counter()
        try:
            response = session.request(method, base_url + path, json=body, allow_redirects=False)
            error = None if response.status_code == expected else f"{response.status_code} {response.text[:200]}"
        except Exception as exc:  # noqa: BLE001 (every failure is counted and shown)
            error = repr(exc)
        results.add(kind, time.perf_counter() - started, error)


# --- websocket chat ----------------------------------------------------------------------------------


async def chat(ws_url: str, origin: str, keys: list[str], channel: str, senders: int, stop_at: float, results: Results):
    """Clients join, ``senders`` of them send once a second until ``stop_at``; returns delivery figures."""
    import websockets

    latencies: list[float] = []
    sent = 0
    gate = asyncio.Semaphore(50)

    async def open_one(key):
        async with gate:
            ws = await websockets.connect(ws_url, additional_headers={"Authorization": f"Bearer {key}", "Origin": origin},
                                          open_timeout=60, max_queue=None)
            await ws.send(json.dumps({"type": "channel:join", "channel": channel}))
            joined = asyncio.Event()

            async def receive():
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame["type"] == "message:new":
                        parts = frame["message"]["content"].split()
                        if parts[0] == "load":
                            latencies.append(time.perf_counter() - float(parts[1]))
                    elif frame["type"] == "presence:sync":
                        joined.set()
                    elif frame["type"] == "error":
                        results.add("ws: error frame", 0.0, raw[:200])

            task = asyncio.create_task(receive())
            await asyncio.wait_for(joined.wait(), 60)
            return ws, task

    clients = await asyncio.gather(*(open_one(key) for key in keys))

    async def send_loop(ws, offset):
        nonlocal sent
        await asyncio.sleep(offset)
        n, next_at = 0, time.perf_counter()
        while time.perf_counter() < stop_at:
            n += 1
            sent += 1
            await ws.send(json.dumps({"type": "message:send", "channel": channel, "client_id": f"{id(ws)}-{n}",
                                      "content": f"load {time.perf_counter():.6f} an ordinary chat message"}))
            next_at += 1.0
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    await asyncio.gather(*(send_loop(clients[i][0], i / senders) for i in range(senders)))
    expected = sent * len(clients)
    drain_until = time.perf_counter() + 30
    while len(latencies) < expected and time.perf_counter() < drain_until:
        await asyncio.sleep(0.1)
    for ws, task in clients:
        task.cancel()
        await ws.close()
    lost = expected - len(latencies)
    if lost:
        results.add("ws: lost deliveries", 0.0, f"{lost} of {expected} deliveries never arrived")
    return {"sent": sent, "delivered": len(latencies), "lost": lost, "latencies": sorted(latencies)}


# --- main --------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="a running site (default: start one daphne on a throwaway database)")
    parser.add_argument("--pid", type=int, action="append", default=[], help="a server process to report peak RSS of")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--http-workers", type=int, default=8)
    parser.add_argument("--ws-clients", type=int, default=50)
    parser.add_argument("--senders", type=int, default=5)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    server, cleanup = None, lambda: None
    if args.base_url:
        if urlparse(args.base_url).hostname not in ("127.0.0.1", "localhost"):
            sys.exit("--base-url must be on 127.0.0.1: this benchmark only loads the local machine.")
        database = os.environ.get("DATABASE_URL", "(DATABASE_URL unset)")
    else:
        database, cleanup = throwaway_database("agentwise_bench_load")
        # Sessions signed in here must verify in the server: same secret.
        os.environ["DJANGO_SECRET_KEY"] = SERVER_ENV["DJANGO_SECRET_KEY"]
    import django

    django.setup()
    try:
        if not args.base_url:
            from django.core.management import call_command

            from tests.live import DaphneProcess

            print(f"Database: {database}. Migrating…", flush=True)
            call_command("migrate", verbosity=0)
            # As the Procfile's web line: production settings serve hashed static names from a manifest.
            subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                           cwd=ROOT, env={**os.environ, **SERVER_ENV}, check=True)
            server = DaphneProcess(env=SERVER_ENV, launcher=True).start(timeout=120)
            args.base_url, args.pid = server.url, [server.process.pid]
        print(f"Seeding {args.http_workers} HTTP users and {args.ws_clients} chat users…", flush=True)
        seed_data = seed(args.http_workers, args.ws_clients)
        results = Results()
        stop = threading.Event()
        threads = [threading.Thread(target=http_worker, args=(args.base_url, seed_data, worker, stop, results, i), daemon=True)
                   for i, worker in enumerate(seed_data["workers"])]
        parsed = urlparse(args.base_url)
        ws_url = f"{'wss' if parsed.scheme == 'https' else 'ws'}://{parsed.netloc}/ws/"
        print(f"Running for {args.seconds:.0f} s against {args.base_url}…", flush=True)
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        chat_result = {"sent": 0, "delivered": 0, "lost": 0, "latencies": []}
        if args.ws_clients:
            chat_result = asyncio.run(chat(ws_url, args.base_url, seed_data["chatters"], seed_data["channel"],
                                           min(args.senders, args.ws_clients), started + args.seconds, results))
        time.sleep(max(0.0, started + args.seconds - time.perf_counter()))
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        http_seconds = time.perf_counter() - started

        print(f"\nPython {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs, "
              f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {database}; {args.base_url}")
        print(f"{args.http_workers} HTTP workers, {args.ws_clients} chat clients ({args.senders} sending 1 msg/s), "
              f"{args.seconds:.0f} s")
        print(f"  {'kind':<24} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
        everything = []
        for kind, _ in MIX:
            timings = sorted(results.timings.get(kind, []))
            everything += timings
            errors = sum(1 for e in results.errors if e.startswith(kind + ":"))
            print(f"  {kind:<24} {len(timings):>8} {len(timings) / http_seconds:>7.1f} "
                  f"{_percentile(timings, 0.5) * 1000:>8.1f} {_percentile(timings, 0.99) * 1000:>8.1f} {errors:>6}")
        everything.sort()
        print(f"  {'all HTTP':<24} {len(everything):>8} {len(everything) / http_seconds:>7.1f} "
              f"{_percentile(everything, 0.5) * 1000:>8.1f} {_percentile(everything, 0.99) * 1000:>8.1f}")
        lat = chat_result["latencies"]
        if args.ws_clients:
            print(f"  chat: {chat_result['sent']} messages sent, {chat_result['delivered']} deliveries "
                  f"({chat_result['delivered'] / http_seconds:.0f}/s), delivery p50 {_percentile(lat, 0.5) * 1000:.1f} ms, "
                  f"p99 {_percentile(lat, 0.99) * 1000:.1f} ms, lost {chat_result['lost']}")
        print(f"  errors: {len(results.errors)}")
        for error, count in Counter(" ".join(e.split())[:160] for e in results.errors).most_common(10):
            print(f"    {count:>5} × {error}")
        for pid in args.pid:
            rss = peak_rss_mb(pid)
            print(f"  peak RSS of server process {pid}: " + (f"{rss:.0f} MB" if rss is not None else "unreadable"))
        print(f"  peak RSS of this load generator: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        if results.errors:
            sys.exit(1)
    finally:
        if server is not None:
            server.stop()
        cleanup()


if __name__ == "__main__":
    main()
