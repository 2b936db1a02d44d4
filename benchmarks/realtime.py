"""Realtime benchmark: chat fan-out through 2 daphne processes beside raw Redis pub/sub, same run.

    REDIS_URL=redis://127.0.0.1:6379/14 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python benchmarks/realtime.py [--clients 100 500 1000] [--senders 10] [--seconds 15]

For each N in --clients:
  A. Agentwise: two fresh daphne processes (production settings, DEBUG off) share PostgreSQL and
     the Redis channel layer; N websocket clients (API-key auth, half on each process) join one
     channel; --senders of them send ``message:send`` once a second. Every message is saved, given
     its sequence number and broadcast as ``message:new`` to all N sockets, the sender's included.
  B. Baseline: N raw Redis pub/sub subscribers on one Redis channel; the same number of publishers
     PUBLISH a frame of the same size once a second — the fan-out with no application in between.
Both sides are received by the same asyncio client code in this process (websockets / redis.asyncio,
json.loads per frame), so the client's own cost is in both. Prints, per side: deliveries/s, delivery
latency p50/p99/max (send → receive, one clock), and lost deliveries (expected minus received after
a drain), then the ratios. Needs Redis; uses its own throwaway database like benchmarks/api.py.
The per-user post rate limit is raised for the run (COMMUNITY_POST_RATE_MESSAGES) so it never
refuses the benchmark's one message per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import SERVER_ENV as BASE_SERVER_ENV  # noqa: E402
from benchmarks.common import throwaway_database  # noqa: E402

SERVER_ENV = {
    **BASE_SERVER_ENV,
    **({"DJANGO_CONN_MAX_AGE": os.environ["DJANGO_CONN_MAX_AGE"]} if "DJANGO_CONN_MAX_AGE" in os.environ else {}),
}
CONNECT_CONCURRENCY = 50
CONNECT_ATTEMPTS = 5
CONTENT = "bench {sent_at} a message of ordinary chat length, about eighty characters"


class Recorder:
    """Latencies and counts for one side of one round."""

    def __init__(self):
        self.latencies: list[float] = []
        self.sent = 0
        self.measuring = False
        self.connect_retries = 0

    def received(self, sent_at: float) -> None:
        if self.measuring:
            self.latencies.append(time.perf_counter() - sent_at)


def _sent_at(content: str) -> float | None:
    parts = content.split()
    return float(parts[1]) if len(parts) >= 2 and parts[0] == "bench" else None


# --- A. Agentwise over websockets ------------------------------------------------------------------


def _seed_round(count: int, label: str):
    from accounts.credentials import Credential
    from accounts.models import User
    from accounts.services import api_key_create
    from community.models import Channel

    channel = Channel.objects.create(name=f"bench-{label}", category="Benchmark")
    existing = list(User.objects.filter(username__startswith="bench").order_by("username"))
    for i in range(len(existing), count):
        existing.append(User.objects.create_user(email=f"bench{i:04d}@example.com", username=f"bench{i:04d}", password=None))
    keys = [api_key_create(user=user, credential=Credential.console(), name=f"bench-{label}")[1] for user in existing[:count]]
    return str(channel.pk), keys


async def _websocket_client(url, origin, raw_key, channel_id, recorder: Recorder, joined: asyncio.Event):
    import websockets

    for attempt in range(CONNECT_ATTEMPTS):
        try:
            ws = await websockets.connect(
                url, additional_headers={"Authorization": f"Bearer {raw_key}", "Origin": origin},
                open_timeout=60, max_size=2**22, max_queue=None,
            )
            break
        except (websockets.InvalidMessage, websockets.InvalidStatus):
            # daphne drops (or refuses, 403) a handshake its application has not accepted within 5 s: on a saturated host
            # the join storm gets there. A browser reconnects; so do we, and the run says how often.
            recorder.connect_retries += 1
            if attempt == CONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(1)
    await ws.send(json.dumps({"type": "channel:join", "channel": channel_id}))

    async def receive():
        async for raw in ws:
            if raw.startswith('{"type":"message:new"'):
                sent_at = _sent_at(json.loads(raw)["message"]["content"])
                if sent_at is not None:
                    recorder.received(sent_at)
            elif raw.startswith('{"type":"presence:sync"'):
                joined.set()
            elif raw.startswith('{"type":"error"'):
                print("  server error frame:", raw[:200], flush=True)

    reader = asyncio.create_task(receive())
    return ws, reader


async def _websocket_sender(ws, channel_id, recorder: Recorder, stop: asyncio.Event, offset: float):
    await asyncio.sleep(offset)
    n = 0
    next_at = time.perf_counter()
    while not stop.is_set():
        n += 1
        recorder.sent += 1
        await ws.send(json.dumps({
            "type": "message:send", "channel": channel_id, "client_id": f"{id(ws)}-{n}",
            "content": CONTENT.format(sent_at=f"{time.perf_counter():.6f}"),
        }))
        next_at += 1.0
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


async def run_agentwise(servers, channel_id, keys, senders: int, seconds: float) -> dict:
    recorder = Recorder()
    stop = asyncio.Event()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    clients = []

    async def open_one(i, key):
        server = servers[i % len(servers)]
        joined = asyncio.Event()
        async with gate:
            ws, reader = await _websocket_client(server.ws_url, server.url, key, channel_id, recorder, joined)
            await asyncio.wait_for(joined.wait(), 120)
        clients.append((ws, reader))

    started = time.perf_counter()
    await asyncio.gather(*(open_one(i, key) for i, key in enumerate(keys)))
    join_seconds = time.perf_counter() - started
    print(f"  {len(keys)} sockets joined in {join_seconds:.1f} s ({recorder.connect_retries} handshakes retried); "
          "measuring…", flush=True)
    await asyncio.sleep(2)  # let the join storm's presence:diff frames drain
    result = await _measure_round(
        recorder, stop, seconds,
        [_websocket_sender(clients[i][0], channel_id, recorder, stop, i / senders) for i in range(senders)],
        receivers=len(keys),
    )
    result["join_seconds"] = join_seconds
    for _, reader in clients:
        reader.cancel()
    await asyncio.gather(*(ws.close() for ws, _ in clients), return_exceptions=True)
    return result


# --- B. Raw Redis pub/sub ----------------------------------------------------------------------------


def raw_frame_template(channel_id: str) -> str:
    """A ``message:new`` frame shaped and sized as the server's (events.message_payload): the same keys,
    the same content as ``_websocket_sender`` writes, a client id and timestamp of the same length."""
    return json.dumps({"type": "message:new", "message": {
        "id": "0" * 36, "channel": channel_id, "seq": 100, "parent": None,
        "user": {"id": "0" * 36, "username": "bench0000", "display_name": "bench0000", "avatar": "", "is_staff": False},
        "content": CONTENT.replace("{sent_at}", "SENT_AT"), "content_type": "text", "attachments": [],
        "reactions": {}, "reply_count": 0, "last_reply_at": None, "client_id": "140000000000000-10",
        "created_at": "2026-01-01T00:00:00.000000+00:00", "edited_at": None, "deleted": False}},
        separators=(",", ":"))


async def run_redis(redis_url: str, receivers: int, senders: int, seconds: float, frame_template: str) -> dict:
    import redis.asyncio as redis

    recorder = Recorder()
    stop = asyncio.Event()
    topic = f"bench-fanout-{os.getpid()}"
    subscribers = []

    async def subscribe_one():
        client = redis.from_url(redis_url)
        pubsub = client.pubsub()
        await pubsub.subscribe(topic)
        await pubsub.get_message(timeout=5)  # the subscribe confirmation

        async def receive():
            async for item in pubsub.listen():
                if item["type"] == "message":
                    raw = item["data"].decode()
                    sent_at = _sent_at(json.loads(raw)["message"]["content"])
                    if sent_at is not None:
                        recorder.received(sent_at)

        subscribers.append((client, pubsub, asyncio.create_task(receive())))

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def gated():
        async with gate:
            await subscribe_one()

    await asyncio.gather(*(gated() for _ in range(receivers)))
    publisher = redis.from_url(redis_url)

    async def publish(offset: float):
        await asyncio.sleep(offset)
        next_at = time.perf_counter()
        while not stop.is_set():
            recorder.sent += 1
            await publisher.publish(topic, frame_template.replace("SENT_AT", f"{time.perf_counter():.6f}"))
            next_at += 1.0
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    result = await _measure_round(recorder, stop, seconds, [publish(i / senders) for i in range(senders)], receivers=receivers)
    for client, pubsub, task in subscribers:
        task.cancel()
        await pubsub.aclose()
        await client.aclose()
    await publisher.aclose()
    return result


# --- measurement -------------------------------------------------------------------------------------


async def _measure_round(recorder: Recorder, stop: asyncio.Event, seconds: float, senders, receivers: int) -> dict:
    recorder.measuring = True
    tasks = [asyncio.create_task(s) for s in senders]
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    sending_seconds = time.perf_counter() - started
    expected = recorder.sent * receivers
    drain_until = time.perf_counter() + 30
    while len(recorder.latencies) < expected and time.perf_counter() < drain_until:
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    recorder.measuring = False
    lat = sorted(recorder.latencies) or [float("nan")]
    return {
        "sent": recorder.sent,
        "sent_per_s": recorder.sent / sending_seconds,
        "delivered": len(recorder.latencies),
        "deliveries_per_s": len(recorder.latencies) / elapsed,
        "lost": expected - len(recorder.latencies),
        "p50": statistics.median(lat) * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "max": lat[-1] * 1000,
    }


def _row(name: str, r: dict) -> str:
    join = f"{r['join_seconds']:.1f}" if "join_seconds" in r else "-"
    return (f"  {name:<30} {r['sent']:>6} {r['delivered']:>9} {r['deliveries_per_s']:>10.0f} {r['p50']:>8.1f} "
            f"{r['p99']:>8.1f} {r['max']:>8.1f} {r['lost']:>6} {join:>7}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--senders", type=int, default=10, help="clients that each send one message per second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--database-name", default="agentwise_bench_rt",
                        help="the throwaway database (created and dropped), so parallel runs do not collide")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        sys.exit("REDIS_URL is required: two daphne processes share the Redis channel layer and presence.")
    database, cleanup = throwaway_database(args.database_name)
    import django

    django.setup()
    from django.core.management import call_command

    from tests.live import DaphneProcess

    try:
        print(f"Database: {database}; Redis {redis_url}. Migrating (dj-stripe's migrations take ~45 s)…", flush=True)
        call_command("migrate", verbosity=0)
        print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs; {args.senders} senders × 1 msg/s, "
              f"{args.seconds:.0f} s per round; 2 daphne processes (DEBUG off)", flush=True)
        header = (f"  {'side':<30} {'sent':>6} {'delivered':>9} {'deliv/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'max ms':>8} {'lost':>6} {'join s':>7}")
        summary = []
        for count in args.clients:
            channel_id, keys = _seed_round(count, str(count))
            servers = [DaphneProcess(env=SERVER_ENV).start() for _ in range(2)]
            try:
                ours = asyncio.run(run_agentwise(servers, channel_id, keys, min(args.senders, count), args.seconds))
            finally:
                for server in servers:
                    server.stop()
            template = raw_frame_template(channel_id)
            raw = asyncio.run(run_redis(redis_url, count, min(args.senders, count), args.seconds, template))
            print(f"\nN = {count} clients", flush=True)
            print(header)
            print(_row("Agentwise (2 daphne, ws)", ours))
            print(_row("raw Redis pub/sub", raw))
            ratio = (f"  ratio: deliveries/s {ours['deliveries_per_s'] / raw['deliveries_per_s']:.2f}x of raw, "
                     f"p50 {ours['p50'] / raw['p50']:.1f}x, p99 {ours['p99'] / raw['p99']:.1f}x")
            print(ratio, flush=True)
            summary.append((count, ours, raw))
        print("\nSummary (N, ours p50/p99 ms, raw p50/p99 ms, ours deliveries/s, lost):")
        for count, ours, raw in summary:
            print(f"  {count:>5}  {ours['p50']:.1f}/{ours['p99']:.1f}  {raw['p50']:.1f}/{raw['p99']:.1f}  "
                  f"{ours['deliveries_per_s']:.0f}  {ours['lost']}")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
