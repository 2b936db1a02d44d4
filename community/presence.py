"""Who is online in each channel, per user (many tabs = one presence), shared by every daphne process.

Each socket that joined a channel keeps an entry ``<user_id>|<connection_id>`` in a Redis sorted set per
channel, scored with its expiry time and refreshed by heartbeats. A user is present while any of their
entries is unexpired, so a process that dies simply stops refreshing and its users drop out within
the TTL — any surviving process's sweep announces it. Without Redis (the embedded setup, one
process) the same logic runs on a dict.
"""

from __future__ import annotations

import asyncio
import time

from django.conf import settings


def _key(channel_id) -> str:
    return f"aw:presence:{channel_id}"


def _member(user_id, connection_id) -> str:
    return f"{user_id}|{connection_id}"


def _user_of(member) -> str:
    if isinstance(member, bytes):
        member = member.decode()
    return member.split("|", 1)[0]


class RedisPresence:
    def __init__(self, url: str):
        self.url = url
        self._clients: dict = {}

    def _redis(self):
        # redis.asyncio clients belong to one event loop; keep one per loop.
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = redis.from_url(self.url)
            self._clients[loop] = client
        return client

    async def _live_users(self, redis, channel_id, now: float) -> set[str]:
        return {_user_of(m) for m in await redis.zrangebyscore(_key(channel_id), now, "+inf")}

    async def join(self, channel_id, user_id, connection_id) -> bool:
        """Adds this socket; True when the user was not present before (announce them)."""
        redis = self._redis()
        now = time.time()
        was_present = str(user_id) in await self._live_users(redis, channel_id, now)
        await redis.zadd(_key(channel_id), {_member(user_id, connection_id): now + settings.PRESENCE_TTL_SECONDS})
        await redis.expire(_key(channel_id), settings.PRESENCE_TTL_SECONDS * 4)
        return not was_present

    async def leave(self, channel_id, user_id, connection_id) -> bool:
        """Removes this socket; True when the user has no other live socket there (announce they left)."""
        redis = self._redis()
        removed = await redis.zrem(_key(channel_id), _member(user_id, connection_id))
        return bool(removed) and str(user_id) not in await self._live_users(redis, channel_id, time.time())

    async def heartbeat(self, channel_ids, user_id, connection_id) -> None:
        redis = self._redis()
        expires = time.time() + settings.PRESENCE_TTL_SECONDS
        async with redis.pipeline(transaction=False) as pipe:
            for channel_id in channel_ids:
                pipe.zadd(_key(channel_id), {_member(user_id, connection_id): expires})
                pipe.expire(_key(channel_id), settings.PRESENCE_TTL_SECONDS * 4)
            await pipe.execute()

    async def users(self, channel_id) -> list[str]:
        return sorted(await self._live_users(self._redis(), channel_id, time.time()))

    async def sweep(self, channel_id) -> list[str]:
        """Drops expired sockets; returns users who thereby left. Only the process whose ZREM removed an
        entry reports it, so several sweepers announce each departure once."""
        redis = self._redis()
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

    def _live(self, channel_id, now) -> set[str]:
        return {_user_of(m) for m, exp in self._entries.get(str(channel_id), {}).items() if exp >= now}

    async def join(self, channel_id, user_id, connection_id) -> bool:
        now = time.time()
        was_present = str(user_id) in self._live(channel_id, now)
        self._entries.setdefault(str(channel_id), {})[_member(user_id, connection_id)] = now + settings.PRESENCE_TTL_SECONDS
        return not was_present

    async def leave(self, channel_id, user_id, connection_id) -> bool:
        removed = self._entries.get(str(channel_id), {}).pop(_member(user_id, connection_id), None)
        return removed is not None and str(user_id) not in self._live(channel_id, time.time())

    async def heartbeat(self, channel_ids, user_id, connection_id) -> None:
        expires = time.time() + settings.PRESENCE_TTL_SECONDS
        for channel_id in channel_ids:
            self._entries.setdefault(str(channel_id), {})[_member(user_id, connection_id)] = expires

    async def users(self, channel_id) -> list[str]:
        return sorted(self._live(channel_id, time.time()))

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
