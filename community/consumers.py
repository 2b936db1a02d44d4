"""The realtime websocket endpoint (``/ws/``): one connection per browser tab, JSON text frames.

The consumer authenticates, parses frames and delegates to services/selectors; it holds no rules of
its own. Access is never decided once and for all at connect: the credential and the user are read
again from the database before every write, whenever a service says access changed (a key revoked,
a session ended, a member removed, a channel made private), and on every heartbeat as a safety net.
Protocol: docs/realtime.md.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import time
import uuid

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from accounts.credentials import SESSION, Credential, credential_user, credentials_still_valid
from accounts.events import credential_group, user_group_name
from agentwise.errors import as_outage, as_refusal

from . import events, selectors, services
from .permissions import channel_capabilities
from .presence import PresenceAnnouncer, presence_announcer, presence_store

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FLOODING = 4429
MAX_FRAME_BYTES = 64 * 1024
FRAMES_PER_SECOND = 20  # per socket, any frame type; writes are also limited per user by the services
RELEASE_TIMEOUT_SECONDS = 3
MAX_WATCHED_TOPICS = 20  # forum topics one socket may watch at once (a tab shows one)
# The protocol's names for refusals where they differ from the REST API's.
_FRAME_CODES = {"permission_denied": "forbidden"}


class FrameError(Exception):
    def __init__(self, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class AccessLost(Exception):
    """The socket's credential no longer holds; it has been closed with 4401."""


def _require_str(frame: dict, name: str) -> str:
    value = frame.get(name)
    if not isinstance(value, str) or not value:
        raise FrameError("missing_field", f"`{name}` is required (a string).", {name: "required"})
    return value


def _channel_with_capabilities(user, channel_id):
    channel = selectors.channel_get_visible(user=user, channel_id=channel_id)
    return channel, channel_capabilities(user, channel)


async def _publish_presence(channel_id: str, payload: dict) -> None:
    await get_channel_layer().group_send(events.channel_group(channel_id), events.group_event(payload))


def _access_verdicts(snapshot):
    """Which sockets' access may have ended: one bulk read for every socket of this process."""
    valid = credentials_still_valid({credential for credential, *_ in snapshot})
    lost = selectors.channels_lost(joins=[(user_id, joined) for _, user_id, _, joined in snapshot])
    return [
        valid.get(credential) is None
        or valid[credential][0] != user_id
        or (was_staff and not valid[credential][1])
        or bool(gone)
        for (credential, user_id, was_staff, _), gone in zip(snapshot, lost, strict=True)
    ]


class AccessWatch:
    """The safety net, one per process: every heartbeat interval it checks all of the process's sockets
    in a few queries (not two per socket) and asks those whose access may have ended — changed behind
    the services' back, by a query in a shell — to decide again themselves."""

    def __init__(self):
        self.sockets: set = set()
        self.task: asyncio.Task | None = None

    def register(self, consumer) -> None:
        self.sockets.add(consumer)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def unregister(self, consumer) -> None:
        self.sockets.discard(consumer)

    async def _run(self):
        while self.sockets:
            await asyncio.sleep(settings.PRESENCE_HEARTBEAT_SECONDS)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database unreachable: keep the sockets, decide again next time
                logger.warning("access watch failed; retrying on the next beat", exc_info=True)

    async def check(self) -> None:
        sockets = [c for c in self.sockets if not c.closing]
        if not sockets:
            return
        snapshot = [(c.credential, str(c.user.pk), c.user.is_staff, frozenset(c.joined) | c.watched_channels()) for c in sockets]
        suspect = await database_sync_to_async(_access_verdicts)(snapshot)
        for consumer, flagged in zip(sockets, suspect, strict=True):
            if flagged and not consumer.closing:
                # Through the socket's own queue, so the decision is ordered with the frames it sends.
                await consumer.channel_layer.send(consumer.channel_name, {"type": "access.changed"})


_watches: dict = {}


def access_watch() -> AccessWatch:
    """One watch per event loop (daphne runs one; each async test has its own)."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        for stale in [other for other in _watches if other.is_closed()]:
            del _watches[stale]
        watch = _watches[loop] = AccessWatch()
    return watch


class RealtimeConsumer(AsyncWebsocketConsumer):
    closing = False

    async def __call__(self, scope, receive, send):
        """Whatever ends the socket — a close, a crash, a cancelled task — its tasks stop and its
        presence goes (a crash used to leave the heartbeat and the presence entry behind)."""
        try:
            return await self._serve(scope, receive, send)
        finally:
            try:
                # Bounded: a cancelled socket must not hang its process's shutdown on a stuck Redis call.
                async with asyncio.timeout(RELEASE_TIMEOUT_SECONDS):
                    await self._release()
            except TimeoutError:
                logger.warning("socket %s released only partly (timed out); presence heals by its TTL",
                               getattr(self, "connection_id", "?"))

    async def _serve(self, scope, receive, send):
        """``AsyncConsumer.__call__`` with a cheaper loop: one task reads the client's frames and one the
        channel layer, each dispatching under one lock, so handlers still run one at a time.

        Channels' ``await_many_dispatch`` starts a task and an ``asyncio.wait`` for every message it
        takes; a chat frame fanned out to 250 sockets of a process paid that 250 times, ~3.5x the cost
        of the plain queue read (benchmarks/realtime.py, docs/performance.md)."""
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            sources.append(functools.partial(self.channel_layer.receive, self.channel_name))
        lock = asyncio.Lock()
        stopped = False

        async def pump(source):
            nonlocal stopped
            while True:
                message = await source()
                async with lock:
                    if stopped:
                        return
                    try:
                        await self.dispatch(message)
                    except StopConsumer:
                        stopped = True
                        return

        tasks = [asyncio.ensure_future(pump(source)) for source in sources]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a fault in a handler (dispatch() lets none through) or in a source
        finally:
            for task in tasks:
                task.cancel()
            # Awaited: the layer's receive unsubscribes the channel when cancelled.
            await asyncio.gather(*tasks, return_exceptions=True)

    async def connect(self):
        user = self.scope.get("user")
        self.credential = self.scope.get("credential")
        if user is None or not user.is_authenticated or self.scope.get("auth_error") or self.credential is None:
            # Accept, then close: a refused handshake would reach real clients as a bare HTTP 403,
            # while a close frame carries the documented 4401 code.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.connection_id = uuid.uuid4().hex[:12]
        if not await presence_store().socket_open(user.pk, self.connection_id, settings.WS_MAX_SOCKETS_PER_USER):
            await self.accept()
            await self.close(code=CLOSE_FLOODING)
            return
        self.registered = True
        self.me: dict | None = None  # the public payload presence and typing show: read at each join
        self.joined: set[str] = set()
        self.watched: dict[str, str] = {}  # forum topic id -> its channel id
        self.typing_tasks: dict[str, asyncio.Task] = {}
        self.typing_announced: set[str] = set()
        self.strikes = 0
        self.frame_window = (0, 0)  # (second, frames in it)
        self.access_lock = asyncio.Lock()
        self.groups_joined = [user_group_name(user.pk), credential_group(self.credential)]
        if user.is_staff:  # a demoted user's sockets close (``_as_actor``, the access watch)
            self.groups_joined.append(events.staff_group())
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.heartbeat_task = asyncio.create_task(self._heartbeat())
        access_watch().register(self)

    async def disconnect(self, code):
        await self._release()

    async def _release(self):
        """Idempotent: cancels the socket's tasks, leaves every group, removes its presence."""
        if getattr(self, "released", False) or not hasattr(self, "connection_id"):
            return
        self.released = True
        self.closing = True
        access_watch().unregister(self)
        tasks = [getattr(self, "heartbeat_task", None), *getattr(self, "typing_tasks", {}).values()]
        for task in tasks:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        try:
            for channel_id in list(getattr(self, "joined", ())):
                await self._leave(channel_id)
            for post_id in list(getattr(self, "watched", ())):
                await self._unwatch(post_id)
            for group in getattr(self, "groups_joined", ()):
                await self.channel_layer.group_discard(group, self.channel_name)
            if getattr(self, "registered", False):
                await presence_store().socket_close(self.user.pk, self.connection_id)
        except Exception:  # Redis down while closing: presence and the socket count heal by their TTL
            logger.warning("socket %s not fully released", self.connection_id, exc_info=True)

    async def close_for(self, code: int) -> None:
        """Closes the socket and stops everything it receives from now on."""
        if self.closing:
            return
        self.closing = True
        await self.close(code=code)
        await self._release()

    async def dispatch(self, message):
        """Runs one handler; no exception in a handler kills the socket.

        (Channels >= 4.2 also closes stale database connections before every handler, by a hop to
        the single sync thread — once per frame delivered to each socket, 17% of a daphne process's
        CPU in benchmarks/realtime.py. Every database call here goes through database_sync_to_async,
        which already does that, so handlers run directly.)
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            logger.warning("no handler for %s", message.get("type"))
            return
        try:
            await handler(message)
        except (StopConsumer, asyncio.CancelledError):
            raise
        except Exception:
            reference = uuid.uuid4().hex[:12]
            logger.exception("websocket handler failed (reference %s, message type %s)", reference, message.get("type"))
            if message.get("type") == "websocket.receive" and not self.closing:
                await self.send_error("internal_error", f"Something went wrong on our side (reference {reference}).",
                                      reference=reference)

    # --- frames in -----------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        if text_data is None:
            await self.send_error("bad_frame", "Send JSON text frames.")
            return
        if len(text_data) > MAX_FRAME_BYTES or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.send_error("frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
            return
        if not await self._frame_allowed():
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: [[[[…]]]] nested past Python's limit
            await self.send_error("bad_json", "The frame is not valid JSON (or is nested too deeply).")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("bad_frame", "Every frame is a JSON object with a string `type`.")
            return
        client_id = frame.get("client_id")
        if client_id is not None and not (isinstance(client_id, str) and len(client_id) <= 64):
            await self.send_error("invalid", "`client_id` must be a string of at most 64 characters.",
                                  fields={"client_id": "invalid"})
            return
        ref = client_id
        handler = self.HANDLERS.get(frame["type"])
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {frame['type'][:50]!r}.", ref=ref)
            return
        try:
            await handler(self, frame)
        except AccessLost:
            return
        except FrameError as error:
            await self.send_error(error.code, error.message, ref=ref, fields=error.fields)
            return
        except Exception as error:
            refusal = as_refusal(error)
            if refusal is None and (refusal := as_outage(error)) is not None:
                logger.warning("websocket frame %s failed: %s", frame["type"], refusal.message, exc_info=error)
            if refusal is None:
                raise  # a fault: dispatch() answers internal_error with a logged reference
            extra = dict(refusal.extra)
            if refusal.code == "invalid" and "fields" in extra:
                fields = extra["fields"]
                message = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in fields.items())
                await self.send_error("invalid", message, ref=ref, **extra)
            else:
                await self.send_error(_FRAME_CODES.get(refusal.code, refusal.code), refusal.message, ref=ref, **extra)
            if refusal.status_code == 429:
                await self._strike()
            return
        self.strikes = 0

    async def _frame_allowed(self) -> bool:
        second = int(time.monotonic())
        window_second, count = self.frame_window
        count = count + 1 if window_second == second else 1
        self.frame_window = (second, count)
        if count > FRAMES_PER_SECOND:
            await self.send_error("rate_limited", f"At most {FRAMES_PER_SECOND} frames per second.")
            await self._strike()
            return False
        return True

    async def _strike(self):
        self.strikes += 1
        if self.strikes >= settings.WS_FLOOD_STRIKES:
            await self.close_for(CLOSE_FLOODING)

    async def _as_actor(self, work=None):
        """Runs ``work(actor)`` as the user the database has now, through the socket's credential, in one
        hop to the database thread; returns its result.

        Every write acts as this user, never as the copy taken at connect: a deactivated user, a revoked
        key, an ended session or a removed staff flag take effect on the very next frame (4401).
        """
        was_staff = self.user.is_staff

        def run():
            user = credential_user(self.credential)
            if user is None or (was_staff and not user.is_staff):
                return None, None
            return user, (work(user) if work is not None else None)

        user, result = await database_sync_to_async(run)()
        if user is None:
            await self.close_for(CLOSE_UNAUTHENTICATED)
            raise AccessLost()
        self.user = user
        return result

    async def on_ping(self, frame):
        await self.send_json({"type": "pong"})

    async def on_join(self, frame):
        channel_id = _require_str(frame, "channel")
        # The user's public payload comes in the same hop (its profile is loaded with the credential's
        # user), not in one more at connect: a join storm queues on the one database thread.
        channel, capabilities, self.me = await self._as_actor(
            lambda actor: (*_channel_with_capabilities(actor, channel_id), events.author_payload(actor))
        )
        channel_id = str(channel.pk)
        if channel_id not in self.joined:
            await self.channel_layer.group_add(events.channel_group(channel_id), self.channel_name)
            self.joined.add(channel_id)
            if await presence_store().join(channel_id, self.user.pk, self.connection_id, self.me):
                self._announcer().joined(channel_id, self.me)
        users = sorted(await presence_store().profiles(channel_id), key=lambda u: u.get("username", "").lower())
        await self.send_json({"type": "presence:sync", "channel": channel_id, "users": users,
                              "last_seq": channel.last_seq, "can": capabilities})

    async def on_leave(self, frame):
        channel_id = _require_str(frame, "channel")
        if channel_id in self.joined:
            await self._leave(channel_id)

    async def _leave(self, channel_id: str):
        self.joined.discard(channel_id)
        await self._stop_typing(channel_id)
        await self.channel_layer.group_discard(events.channel_group(channel_id), self.channel_name)
        if await presence_store().leave(channel_id, self.user.pk, self.connection_id):
            self._announcer().left(channel_id, self.me)

    async def on_send(self, frame):
        content = frame.get("content", "")
        parent_id = frame.get("parent")
        attachments = frame.get("attachments") or []
        if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
            raise FrameError("invalid", "`attachments` is a list of attachment ids.", {"attachments": "invalid"})
        channel_id = _require_str(frame, "channel")
        message = await self._as_actor(lambda actor: self._post(
            actor, channel_id, parent_id, content=content,
            content_type=frame.get("content_type") or "text", client_id=frame.get("client_id") or "",
            attachment_ids=attachments,
        ))
        await self._stop_typing(str(message.channel_id))
        await self.send_json({"type": "ack", "client_id": frame.get("client_id"), "id": str(message.pk), "seq": message.seq})

    @staticmethod
    def _post(actor, channel_id, parent_id, **fields):
        channel = selectors.channel_get_visible(user=actor, channel_id=channel_id)
        parent = selectors.message_get_visible(user=actor, message_id=parent_id) if parent_id else None
        return services.message_post(actor=actor, channel=channel, parent=parent, **fields)

    async def on_edit(self, frame):
        message_id, content = _require_str(frame, "id"), frame.get("content")
        await self._as_actor(lambda actor: services.message_edit(
            actor=actor, message=selectors.message_get_visible(user=actor, message_id=message_id, deleted_ok=False),
            content=content,
        ))

    async def on_delete(self, frame):
        message_id = _require_str(frame, "id")
        await self._as_actor(lambda actor: services.message_delete(
            actor=actor, message=selectors.message_get_visible(user=actor, message_id=message_id, deleted_ok=False),
        ))

    async def on_react(self, frame):
        message_id, emoji = _require_str(frame, "message"), frame.get("emoji")
        await self._as_actor(lambda actor: services.reaction_toggle(
            actor=actor, message=selectors.message_get_visible(user=actor, message_id=message_id, deleted_ok=False),
            emoji=emoji,
        ))

    async def on_typing_start(self, frame):
        channel_id = _require_str(frame, "channel")
        if channel_id not in self.joined:
            raise FrameError("not_joined", "Join the channel before typing in it.")
        previous = self.typing_tasks.pop(channel_id, None)
        if previous is not None:
            previous.cancel()
        self.typing_tasks[channel_id] = asyncio.create_task(self._typing_expires(channel_id))
        if channel_id not in self.typing_announced and await sync_to_async(
            services.typing_broadcast_allowed, thread_sensitive=False
        )(actor=self.user, channel_id=channel_id):
            self.typing_announced.add(channel_id)
            await self._typing(channel_id, True)

    async def on_typing_stop(self, frame):
        await self._stop_typing(_require_str(frame, "channel"))

    async def _typing_expires(self, channel_id: str):
        await asyncio.sleep(settings.TYPING_TTL_SECONDS)
        self.typing_tasks.pop(channel_id, None)
        if channel_id in self.typing_announced:
            self.typing_announced.discard(channel_id)
            await self._typing(channel_id, False)

    async def _stop_typing(self, channel_id: str):
        task = self.typing_tasks.pop(channel_id, None)
        if task is not None:
            task.cancel()
        if channel_id in self.typing_announced:
            self.typing_announced.discard(channel_id)
            await self._typing(channel_id, False)

    async def _typing(self, channel_id: str, typing: bool):
        payload = {
            "type": "user:typing",
            "channel": channel_id,
            "user": self.me,
            "typing": typing,
            "expires_in": settings.TYPING_TTL_SECONDS if typing else 0,
        }
        await self._broadcast(channel_id, payload, exclude=self.channel_name)

    async def on_report(self, frame):
        """Reports content to the moderators (the REST ``POST /api/reports/`` rule): ``report:ok`` with the
        report's id (``created`` false for a repeat of your open report), or an ``error`` frame."""
        from moderation.reports import report_create

        content_type, content_id = _require_str(frame, "content_type"), _require_str(frame, "content_id")
        reason = frame.get("reason")
        item, created = await self._as_actor(lambda actor: report_create(
            actor=actor, content_type=content_type, content_id=content_id, reason=reason,
        ))
        await self.send_json({"type": "report:ok", "id": str(item.pk), "content_type": item.content_type,
                              "content_id": item.content_id, "created": created, "ref": frame.get("client_id")})

    # --- forum topics ----------------------------------------------------------------------------

    def watched_channels(self) -> frozenset:
        return frozenset(getattr(self, "watched", {}).values())

    async def on_forum_watch(self, frame):
        """Subscribes the socket to a topic's ``forum:*`` frames, if the user may read the topic (the
        API's rule, through the same selector); an unknown or invisible topic is ``not_found``."""
        post_id = _require_str(frame, "post")
        if post_id not in self.watched and len(self.watched) >= MAX_WATCHED_TOPICS:
            raise FrameError("too_many", f"A socket watches at most {MAX_WATCHED_TOPICS} topics; unwatch one first.")
        post = await self._as_actor(lambda actor: selectors.forum_post_get_visible(user=actor, post_id=post_id))
        post_id, channel_id = str(post.pk), str(post.channel_id)
        if post_id not in self.watched:
            if channel_id not in self.watched_channels():
                await self.channel_layer.group_add(events.forum_channel_group(channel_id), self.channel_name)
            await self.channel_layer.group_add(events.forum_post_group(post_id), self.channel_name)
            self.watched[post_id] = channel_id
        await self.send_json({"type": "forum:watching", "post": post_id, "reply_count": post.reply_count})

    async def on_forum_unwatch(self, frame):
        post_id = _require_str(frame, "post")
        if post_id in self.watched:
            await self._unwatch(post_id)
        await self.send_json({"type": "forum:unwatched", "post": post_id})

    async def _unwatch(self, post_id: str):
        channel_id = self.watched.pop(post_id)
        await self.channel_layer.group_discard(events.forum_post_group(post_id), self.channel_name)
        if channel_id not in self.watched_channels():
            await self.channel_layer.group_discard(events.forum_channel_group(channel_id), self.channel_name)

    HANDLERS = {
        "ping": on_ping,
        "channel:join": on_join,
        "channel:leave": on_leave,
        "message:send": on_send,
        "message:edit": on_edit,
        "message:delete": on_delete,
        "reaction:toggle": on_react,
        "typing:start": on_typing_start,
        "typing:stop": on_typing_stop,
        "forum:watch": on_forum_watch,
        "forum:unwatch": on_forum_unwatch,
        "report": on_report,
    }

    # --- access follows changes -----------------------------------------------------------------

    async def access_changed(self, event):
        """Group message ``access.changed``: this credential ended (``ended``: a key revoked, a session
        signed out) — close — or the user's access may have changed (deactivated, demoted, password
        changed) — decide again from the database, now."""
        if event.get("ended"):
            await self.close_for(CLOSE_UNAUTHENTICATED)
            return
        await self._recheck(channel_ids=None)

    async def access_moved(self, event):
        """Group message ``access.moved``: this socket's session continues under a new key (the password
        was changed from it). Only sockets of the old key receive this; they follow it."""
        if self.closing or self.credential.kind != SESSION:
            return
        old_group = credential_group(self.credential)
        self.credential = Credential(kind=SESSION, id=event["id"])
        new_group = credential_group(self.credential)
        await self.channel_layer.group_add(new_group, self.channel_name)
        await self.channel_layer.group_discard(old_group, self.channel_name)
        self.groups_joined = [group if group != old_group else new_group for group in self.groups_joined]

    async def access_channel(self, event):
        """Group message ``access.channel``: a channel's membership or privacy changed."""
        if event.get("channel") in self.joined or event.get("channel") in self.watched_channels():
            await self._recheck(channel_ids=[event["channel"]])

    async def _recheck(self, *, channel_ids):
        """Closes the socket (4401) if its credential no longer holds; otherwise leaves every joined
        channel it may no longer read, with a ``channel:removed`` frame, and stops watching the forum
        topics of those channels, with a ``forum:removed`` frame each. Handlers run one at a time,
        so no frame of a lost channel is delivered between the change and this decision."""
        if self.closing:
            return
        async with self.access_lock:
            held = set(self.joined) | self.watched_channels()
            checked = held if channel_ids is None else set(channel_ids) & held
            try:
                visible = await self._as_actor(
                    lambda actor: selectors.channel_ids_visible(user=actor, channel_ids=checked) if checked else set()
                )
            except AccessLost:
                return
            for channel_id in sorted(checked - visible):
                if channel_id in self.joined:
                    await self._leave(channel_id)
                    await self.send_json({"type": "channel:removed", "channel": channel_id,
                                          "message": "You no longer have access to this channel."})
                for post_id in sorted(p for p, c in self.watched.items() if c == channel_id):
                    await self._unwatch(post_id)
                    await self.send_json({"type": "forum:removed", "post": post_id,
                                          "message": "You no longer have access to this topic."})

    # --- presence upkeep -------------------------------------------------------------------------

    async def _heartbeat(self):
        # Sockets that connected together must not all beat together: start at a random phase.
        await asyncio.sleep(random.uniform(0, settings.PRESENCE_HEARTBEAT_SECONDS))
        while True:
            try:
                store = presence_store()
                await store.heartbeat(list(self.joined), self.user.pk, self.connection_id)
                for channel_id in list(self.joined):
                    for user_id in await store.sweep(channel_id):
                        self._announcer().left(channel_id, {"id": user_id})
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis hiccup must not kill the socket; the next beat retries
                logger.warning("presence heartbeat failed for socket %s", self.connection_id, exc_info=True)
            await asyncio.sleep(settings.PRESENCE_HEARTBEAT_SECONDS)

    # --- frames out ------------------------------------------------------------------------------

    def _announcer(self) -> PresenceAnnouncer:
        return presence_announcer(_publish_presence)

    async def _broadcast(self, channel_id: str, payload: dict, exclude: str | None = None):
        await self.channel_layer.group_send(
            events.channel_group(channel_id), events.group_event(payload, exclude=exclude)
        )

    async def community_event(self, event):
        if self.closing or (event.get("exclude") and event["exclude"] == self.channel_name):
            return
        if event.get("exclude_user") and event["exclude_user"] == str(self.user.pk):
            return  # the author's own copy came through their personal group
        if event.get("exclude_staff") and self.user.is_staff:
            return  # staff saw the moderated content all along (``events.message_shown``/``message_gone``)
        channel = event.get("channel")
        if channel is not None and channel not in self.joined:
            return  # left (or removed from) this channel while the frame was in flight
        await self.send(text_data=event["text"])

    async def forum_event(self, event):
        if self.closing or event.get("post") not in self.watched:
            return  # stopped watching (or lost access) while the frame was in flight
        if event.get("exclude_user") and event["exclude_user"] == str(self.user.pk):
            return  # the author's own copy came through their personal group
        if event.get("exclude_staff") and self.user.is_staff:
            return  # staff saw the moderated reply all along (``events.forum_reply_shown``/``forum_reply_gone``)
        await self.send(text_data=event["text"])

    async def notification(self, event):
        """Group message ``{"type": "notification", "payload": {...}}`` sent to the user's personal group."""
        if not self.closing:
            await self.send_json({"type": "notification", **event["payload"]})

    async def send_json(self, payload: dict) -> None:
        if not self.closing:
            await self.send(text_data=events.frame_text(payload))

    async def send_error(self, code: str, message: str, ref: str | None = None, **extra) -> None:
        error = {"type": "error", "code": code, "message": message}
        if ref:
            error["ref"] = ref
        error.update({k: v for k, v in extra.items() if v is not None})
        await self.send_json(error)
