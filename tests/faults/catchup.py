"""A websocket client that follows docs/realtime.md's catch-up protocol, for fault tests.

It remembers the highest ``seq`` it saw; a ``message:new`` more than one ahead, or a reconnect, makes it
fetch ``GET …/messages/?after=<last id>`` until ``has_more`` is false, merging by id. A closed socket
is reconnected (through whatever ``url`` names: a process, or the load balancer) until it succeeds.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from types import SimpleNamespace

import websockets

from tests.faults.processes import http
from tests.live import ws_connect


class CatchUpClient:
    def __init__(self, *, url: str, key: str, channel_id: str):
        self.door = SimpleNamespace(url=url, ws_url=url.replace("http", "ws", 1) + "/ws/")
        self.key = key
        self.channel_id = channel_id
        self.seen: dict[str, int] = {}  # message id -> seq
        self.ws = None
        self.reconnects = 0
        self.catch_ups = 0
        self.presence: set[str] = set()  # ids of the users online in the channel, as this client knows them

    @property
    def last_seq(self) -> int:
        return max(self.seen.values(), default=0)

    async def connect(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ws = await ws_connect(self.door, self.key)
                await self.ws.send(json.dumps({"type": "channel:join", "channel": self.channel_id}))
                while True:
                    frame = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
                    if frame["type"] == "presence:sync":
                        self.presence = {user["id"] for user in frame["users"]}
                        break
                return
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def catch_up(self) -> None:
        self.catch_ups += 1
        while True:
            after = max(self.seen, key=self.seen.get) if self.seen else None
            query = urllib.parse.urlencode({"limit": 100, **({"after": after} if after else {})})
            status, _, body = await asyncio.to_thread(
                http, "GET", f"{self.door.url}/api/community/channels/{self.channel_id}/messages/?{query}", key=self.key
            )
            if status != 200:
                raise AssertionError(f"catch-up answered {status}: {body}")
            for message in body["results"]:
                self.seen[message["id"]] = message["seq"]
            if not body["has_more"]:
                return

    async def follow(self, seconds: float) -> None:
        """Reads frames for ``seconds``, catching up on gaps and reconnecting when the socket closes."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            except TimeoutError:
                return
            except websockets.exceptions.ConnectionClosed:
                self.reconnects += 1
                await self.connect()
                await self.catch_up()
                continue
            if frame["type"] == "message:new":
                message = frame["message"]
                if message["seq"] > self.last_seq + 1:
                    await self.catch_up()
                self.seen[message["id"]] = message["seq"]
            elif frame["type"] == "presence:diff" and frame["channel"] == self.channel_id:
                self.presence |= {user["id"] for user in frame["joined"]}
                self.presence -= {user["id"] for user in frame["left"]}

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
