"""Who is online in each channel, per user (many tabs = one presence), shared by every daphne process.

Each socket that joined a channel keeps an entry ``<user_id>|<connection_id>`` in a Redis sorted set per
channel, scored with its expiry time and refreshed by heartbeats. A user is present while any of their
entries is unexpired, so a process that dies simply stops refreshing and its users drop out within
the TTL — any surviving process's sweep announces it. Without Redis (the embedded setup, one
process) the same logic runs on a dict.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)

# Redis connections one process's presence store opens at most; more callers wait for one.
PRESENCE_REDIS_CONNECTIONS = 32
# Presence-diff deliveries per second one process aims to stay under per channel (see PresenceAnnouncer).
PRESENCE_DIFF_DELIVERIES = 500


def _key(channel_id) -> str:
    return f"aw:presence:{channel_id}"


def _member(user_id, connection_id) -> str:
    return f"{user_id}|{connection_id}"


def _user_of(member) -> str:
    if isinstance(member, bytes):
        member = member.decode()
    return member.split("|", 1)[0]


# One round trip each, atomic, and O(sockets in the channel) inside Redis rather than over the wire:
# a join storm of 1,000 sockets must not pull the whole set 1,000 times.
_JOIN = """
local now, prefix = tonumber(ARGV[1]), ARGV[2]
local present = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  if string.sub(m, 1, #prefix) == prefix then present = 1 break end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[5], ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return present
"""
_LEAVE = """
if redis.call('ZREM', KEYS[1], ARGV[3]) == 0 then return 0 end
local now, prefix = tonumber(ARGV[1]), ARGV[2]
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  if string.sub(m, 1, #prefix) == prefix then return 0 end
end
return 1
"""


def _info_key(channel_id) -> str:
    return f"aw:presence-info:{channel_id}"


def _sockets_key(user_id) -> str:
    return f"aw:sockets:{user_id}"


# A user's open sockets across every process, each scored with its expiry: drop the expired, then
# admit the new one only below the cap, atomically (20 tabs racing cannot let a 21st in).
_OPEN_SOCKET = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisPresence:
    def __init__(self, url: str):
        self.url = url
        self._clients: dict = {}

    def _redis(self):
        # redis.asyncio clients belong to one event loop; keep one per loop.
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            # Blocking, bounded pool: a burst (250 sockets closing at once, a join storm) waits for a
            # connection instead of failing with MaxConnectionsError past redis-py's default 100.
            pool = redis.BlockingConnectionPool.from_url(self.url, max_connections=PRESENCE_REDIS_CONNECTIONS, timeout=10)
            client = redis.Redis(connection_pool=pool)
            entry = (client, client.register_script(_JOIN), client.register_script(_LEAVE), client.register_script(_OPEN_SOCKET))
            self._clients[loop] = entry
        return entry[:3]

    async def socket_open(self, user_id, connection_id, limit: int) -> bool:
        """Registers a socket of the user; False (refuse it) when they already hold ``limit`` live ones."""
        self._redis()
        open_socket = self._clients[asyncio.get_running_loop()][3]
        now = time.time()
        ttl = settings.PRESENCE_TTL_SECONDS
        return bool(await open_socket(keys=[_sockets_key(user_id)], args=[now, limit, now + ttl, connection_id, ttl * 4]))

    async def socket_close(self, user_id, connection_id) -> None:
        redis, _, _ = self._redis()
        await redis.zrem(_sockets_key(user_id), connection_id)

    async def _live_users(self, redis, channel_id, now: float) -> set[str]:
        return {_user_of(m) for m in await redis.zrangebyscore(_key(channel_id), now, "+inf")}

    async def join(self, channel_id, user_id, connection_id, info: dict | None = None) -> bool:
        """Adds this socket; True when the user was not present before (announce them)."""
        _, join, _ = self._redis()
        now = time.time()
        ttl = settings.PRESENCE_TTL_SECONDS
        was_present = await join(
            keys=[_key(channel_id), _info_key(channel_id)],
            args=[now, f"{user_id}|", now + ttl, _member(user_id, connection_id), str(user_id),
                  json.dumps(info or {"id": str(user_id)}), ttl * 4],
        )
        return not was_present

    async def leave(self, channel_id, user_id, connection_id) -> bool:
        """Removes this socket; True when the user has no other live socket there (announce they left)."""
        _, _, leave = self._redis()
        return bool(await leave(keys=[_key(channel_id)], args=[time.time(), f"{user_id}|", _member(user_id, connection_id)]))

    async def heartbeat(self, channel_ids, user_id, connection_id) -> None:
        redis, _, _ = self._redis()
        expires = time.time() + settings.PRESENCE_TTL_SECONDS
        async with redis.pipeline(transaction=False) as pipe:
            pipe.zadd(_sockets_key(user_id), {connection_id: expires})
            pipe.expire(_sockets_key(user_id), settings.PRESENCE_TTL_SECONDS * 4)
            for channel_id in channel_ids:
                pipe.zadd(_key(channel_id), {_member(user_id, connection_id): expires})
                pipe.expire(_key(channel_id), settings.PRESENCE_TTL_SECONDS * 4)
                pipe.expire(_info_key(channel_id), settings.PRESENCE_TTL_SECONDS * 4)
            await pipe.execute()

    async def users(self, channel_id) -> list[str]:
        redis, _, _ = self._redis()
        return sorted(await self._live_users(redis, channel_id, time.time()))

    async def profiles(self, channel_id) -> list[dict]:
        """The present users' public payloads (saved at join), so a join needs no database query."""
        redis, _, _ = self._redis()
        user_ids = sorted(await self._live_users(redis, channel_id, time.time()))
        if not user_ids:
            return []
        raw = await redis.hmget(_info_key(channel_id), user_ids)
        return [json.loads(item) if item else {"id": user_id} for user_id, item in zip(user_ids, raw, strict=True)]

    async def sweep(self, channel_id) -> list[str]:
        """Drops expired sockets; returns users who thereby left. Only the process whose ZREM removed an
        entry reports it, so several sweepers announce each departure once."""
        redis, _, _ = self._redis()
        now = time.time()
        expired = await redis.zrangebyscore(_key(channel_id), "-inf", now)
        gone = set()
        for member in expired:
            if await redis.zrem(_key(channel_id), member):
                gone.add(_user_of(member))
        if not gone:
            return []
        live = await self._live_users(redis, channel_id, now)
        return sorted(gone - live)


class LocalPresence:
    """The same contract in process memory, for the embedded single-process setup and tests."""

    def __init__(self):
        self._entries: dict[str, dict[str, float]] = {}
        self._info: dict[str, dict[str, dict]] = {}
        self._sockets: dict[str, dict[str, float]] = {}

    async def socket_open(self, user_id, connection_id, limit: int) -> bool:
        now = time.time()
        sockets = self._sockets.setdefault(str(user_id), {})
        for stale in [c for c, expires in sockets.items() if expires < now]:
            del sockets[stale]
        if len(sockets) >= limit:
            return False
        sockets[connection_id] = now + settings.PRESENCE_TTL_SECONDS
        return True

    async def socket_close(self, user_id, connection_id) -> None:
        self._sockets.get(str(user_id), {}).pop(connection_id, None)

    def _live(self, channel_id, now) -> set[str]:
        return {_user_of(m) for m, exp in self._entries.get(str(channel_id), {}).items() if exp >= now}

    async def join(self, channel_id, user_id, connection_id, info: dict | None = None) -> bool:
        now = time.time()
        was_present = str(user_id) in self._live(channel_id, now)
        self._info.setdefault(str(channel_id), {})[str(user_id)] = info or {"id": str(user_id)}
        self._entries.setdefault(str(channel_id), {})[_member(user_id, connection_id)] = now + settings.PRESENCE_TTL_SECONDS
        return not was_present

    async def leave(self, channel_id, user_id, connection_id) -> bool:
        removed = self._entries.get(str(channel_id), {}).pop(_member(user_id, connection_id), None)
        return removed is not None and str(user_id) not in self._live(channel_id, time.time())

    async def heartbeat(self, channel_ids, user_id, connection_id) -> None:
        expires = time.time() + settings.PRESENCE_TTL_SECONDS
        sockets = self._sockets.get(str(user_id), {})
        if connection_id in sockets:
            sockets[connection_id] = expires
        for channel_id in channel_ids:
            self._entries.setdefault(str(channel_id), {})[_member(user_id, connection_id)] = expires

    async def users(self, channel_id) -> list[str]:
        return sorted(self._live(channel_id, time.time()))

    async def profiles(self, channel_id) -> list[dict]:
        info = self._info.get(str(channel_id), {})
        return [info.get(user_id, {"id": user_id}) for user_id in await self.users(channel_id)]

    async def sweep(self, channel_id) -> list[str]:
        now = time.time()
        entries = self._entries.get(str(channel_id), {})
        expired = [m for m, exp in entries.items() if exp < now]
        gone = {_user_of(m) for m in expired if entries.pop(m, None) is not None}
        return sorted(gone - self._live(channel_id, now))


_store = None


def presence_store():
    global _store
    if _store is None:
        _store = RedisPresence(settings.REDIS_URL) if settings.REDIS_URL else LocalPresence()
    return _store


class PresenceAnnouncer:
    """Coalesces one process's presence changes per channel into one ``presence:diff`` per window.

    Announcing each join at once makes a join storm quadratic: 1,000 sockets joining send 1,000 diffs
    to up to 1,000 members. Batched for ``PRESENCE_DIFF_BATCH_SECONDS``, members get a handful of diffs
    listing many users. At flush time the store is asked again, so a user who left and came back
    inside the window (possibly through another process) is not announced as gone.
    """

    def __init__(self, publish):
        self.publish = publish  # async (channel_id, payload) -> None
        self.pending: dict[str, tuple[dict, dict]] = {}
        self.present: dict[str, int] = {}  # channel id -> users present at its last flush

    def window(self, channel_id: str) -> float:
        """The batch window, longer for a bigger channel: each diff goes to every member, so a join storm
        into 500 members at 0.25 s windows was 2,000 deliveries a second per process — as much as the
        chat itself — and starved the joins. Longer windows keep it under ``PRESENCE_DIFF_DELIVERIES``."""
        return max(settings.PRESENCE_DIFF_BATCH_SECONDS, self.present.get(channel_id, 0) / PRESENCE_DIFF_DELIVERIES)

    def joined(self, channel_id: str, user: dict) -> None:
        joined, left = self._pending(channel_id)
        left.pop(user["id"], None)
        joined[user["id"]] = user

    def left(self, channel_id: str, user: dict) -> None:
        joined, left = self._pending(channel_id)
        joined.pop(user["id"], None)
        left[user["id"]] = user

    def _pending(self, channel_id: str) -> tuple[dict, dict]:
        if channel_id not in self.pending:
            self.pending[channel_id] = ({}, {})
            asyncio.get_running_loop().call_later(
                self.window(channel_id), lambda: asyncio.ensure_future(self.flush(channel_id))
            )
        return self.pending[channel_id]

    async def flush(self, channel_id: str) -> None:
        joined, left = self.pending.pop(channel_id, ({}, {}))
        if not joined and not left:
            return
        try:
            live = set(await presence_store().users(channel_id))
            if live:
                self.present[channel_id] = len(live)
            else:
                self.present.pop(channel_id, None)
            joined = [user for user_id, user in joined.items() if user_id in live]
            left = [user for user_id, user in left.items() if user_id not in live]
            if joined or left:
                await self.publish(channel_id, {"type": "presence:diff", "channel": channel_id, "joined": joined, "left": left})
        except Exception:  # Redis down: members miss this diff; the next presence:sync (rejoin) corrects them
            logger.warning("presence diff for channel %s not announced", channel_id, exc_info=True)


_announcers: dict = {}


def presence_announcer(publish) -> PresenceAnnouncer:
    """One announcer per event loop (daphne runs one; each async test has its own)."""
    loop = asyncio.get_running_loop()
    announcer = _announcers.get(loop)
    if announcer is None:
        for stale in [other for other in _announcers if other.is_closed()]:
            del _announcers[stale]
        announcer = _announcers[loop] = PresenceAnnouncer(publish)
    return announcer
