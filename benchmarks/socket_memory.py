"""Memory per idle websocket: one daphne process beside a raw ``websockets`` server, same run.

    REDIS_URL=redis://127.0.0.1:6379/14 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        python benchmarks/socket_memory.py [--sockets 1000] [--cycles 5]

A. Agentwise: one daphne process (production settings, DEBUG off, the Redis channel layer); N
   clients (API-key auth, one user each, as benchmarks/realtime.py) connect and join one channel,
   each waiting for its ``presence:sync``, then stay idle.
B. Baseline: a raw ``websockets`` server in its own process that checks the same headers, answers
   the join frame and keeps every socket in one in-memory group — the least a server holding idle
   chat sockets can do.
For each side: RSS (VmRSS from /proc/<pid>/status, once it stops moving) with a few warm-up sockets
opened and closed, then with N idle sockets: the delta per socket and the ratio. Then ``--cycles``
rounds of connecting N sockets and closing them all, with the RSS after each: flat means the growth
from cycle 2 to the last is under 5% (cycle 1 still fills allocator pools and caches).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import SERVER_ENV, throwaway_database  # noqa: E402

CONNECT_CONCURRENCY = 20  # handshakes in flight: memory, not join speed, is measured here
CONNECT_ATTEMPTS = 5
WARM_UP_SOCKETS = 20

# The baseline: the same handshake headers checked, the join answered, every socket kept in a group.
RAW_SERVER = r'''
import asyncio, json, sys
from websockets.asyncio.server import serve

group = set()

async def handler(ws):
    if not ws.request.headers.get("Authorization", "").startswith("Bearer "):
        await ws.close(4401)
        return
    try:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "channel:join":
                group.add(ws)
                await ws.send(json.dumps({"type": "presence:sync", "channel": frame["channel"], "users": []}, separators=(",", ":")))
    finally:
        group.discard(ws)

async def main(port):
    async with serve(handler, "127.0.0.1", port, max_size=2**20):
        print("ready", flush=True)
        await asyncio.Future()

asyncio.run(main(int(sys.argv[1])))
'''


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


async def settled_rss(pid: int, *, quiet: float = 1.5, timeout: float = 30) -> int:
    """The RSS once it has not moved for ``quiet`` seconds (the server's closes, presence and garbage
    collection finished), or after ``timeout``."""
    deadline = time.monotonic() + timeout
    last, since = rss_kib(pid), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = rss_kib(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


class RawServer:
    def __init__(self):
        from tests.live import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self) -> RawServer:
        self.process = subprocess.Popen([sys.executable, "-c", RAW_SERVER, str(self.port)], stdout=subprocess.PIPE, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the raw websockets server did not start")
        return self

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def open_sockets(server, keys: list[str], channel_id: str) -> list:
    """N joined sockets (each has had its ``presence:sync``)."""
    import websockets

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(key):
        async with gate:
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    ws = await websockets.connect(
                        server.ws_url, additional_headers={"Authorization": f"Bearer {key}", "Origin": server.url},
                        open_timeout=60, max_size=2**22,
                    )
                    break
                except (websockets.InvalidMessage, websockets.InvalidStatus):  # daphne refuses (403) or drops a
                    # handshake its application has not accepted within 5 s
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(1)
            await ws.send(json.dumps({"type": "channel:join", "channel": channel_id}))
            while True:
                raw = await asyncio.wait_for(ws.recv(), 60)
                if raw.startswith('{"type":"presence:sync"'):
                    break
                if raw.startswith('{"type":"error"'):
                    raise RuntimeError(f"server error frame: {raw[:200]}")
        # Then read and drop what comes (the others' presence diffs), as a client does: an unread socket
        # would pause reading, miss its pongs and be closed, and leave frames queued in the server.
        readers.append(asyncio.create_task(drain(ws)))
        return ws

    async def drain(ws):
        try:
            async for _ in ws:
                pass
        except websockets.ConnectionClosed:
            pass

    readers = []
    return list(await asyncio.gather(*(one(key) for key in keys)))



async def close_sockets(sockets: list) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def measure(name: str, server, pid: int, keys: list[str], channel_id: str, cycles: int, idle: float) -> dict:
    await close_sockets(await open_sockets(server, keys[:WARM_UP_SOCKETS], channel_id))
    base = await settled_rss(pid)
    started = time.perf_counter()
    sockets = await open_sockets(server, keys, channel_id)
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(idle)  # idle: heartbeats and the access watch run meanwhile
    loaded = await settled_rss(pid)
    per_socket = (loaded - base) / len(keys)
    print(f"  {name:<24} base {base / 1024:7.1f} MiB, {len(keys)} idle sockets {loaded / 1024:7.1f} MiB "
          f"-> {per_socket:.1f} KiB/socket (connected in {connect_seconds:.1f} s)", flush=True)
    await close_sockets(sockets)
    after = [await settled_rss(pid)]
    print(f"  {'':<24} RSS after closing them: {after[0] / 1024:.1f} MiB; after each cycle:", end="", flush=True)
    for _ in range(cycles):
        await close_sockets(await open_sockets(server, keys, channel_id))
        after.append(await settled_rss(pid))
        print(f" {after[-1] / 1024:.1f}", end="", flush=True)
    print(" MiB", flush=True)
    return {"base": base, "loaded": loaded, "per_socket": per_socket, "after": after, "connect_seconds": connect_seconds}


def _flat(result: dict) -> tuple[float, bool]:
    cycles = result["after"][1:]
    growth = (cycles[-1] - cycles[1]) / cycles[1] if len(cycles) >= 2 else 0.0
    return growth, growth < 0.05


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--idle", type=float, default=12.0, help="seconds the sockets stay idle before measuring")
    parser.add_argument("--database-name", default="agentwise_bench_mem",
                        help="the throwaway database (created and dropped), so parallel runs do not collide")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.sockets * 2 + 200
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentwise.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        sys.exit("REDIS_URL is required: the daphne process uses the Redis channel layer and presence.")
    database, cleanup = throwaway_database(args.database_name)
    import django

    django.setup()
    from django.core.management import call_command

    from benchmarks.realtime import _seed_round
    from tests.live import DaphneProcess

    try:
        print(f"Database: {database}; Redis {redis_url}. Migrating…", flush=True)
        call_command("migrate", verbosity=0)
        channel_id, keys = _seed_round(args.sockets, "memory")
        print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs; {args.sockets} sockets, "
              f"{args.cycles} cycles; RSS in MiB (VmRSS once settled)", flush=True)
        daphne = DaphneProcess(env=SERVER_ENV).start()
        try:
            ours = asyncio.run(measure("Agentwise (1 daphne)", daphne, daphne.process.pid, keys, channel_id,
                                       args.cycles, args.idle))
        finally:
            daphne.stop()
        raw_server = RawServer().start()
        try:
            raw = asyncio.run(measure("raw websockets", raw_server, raw_server.process.pid, keys, channel_id,
                                      args.cycles, args.idle))
        finally:
            raw_server.stop()
        print(f"\n  ratio: {ours['per_socket'] / raw['per_socket']:.2f}x the raw server's memory per idle socket "
              f"({ours['per_socket']:.1f} vs {raw['per_socket']:.1f} KiB)")
        for name, result in (("Agentwise", ours), ("raw websockets", raw)):
            growth, flat = _flat(result)
            print(f"  {name}: cycle 2 -> {args.cycles}: {growth * 100:+.1f}% ({'flat' if flat else 'GROWS'})")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
