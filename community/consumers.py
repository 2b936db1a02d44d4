"""The realtime websocket endpoint (``/ws/``): one connection per browser tab, JSON text frames.

The consumer authenticates, parses frames and delegates to services/selectors; it holds no rules of
its own. Protocol: docs/realtime.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from accounts.notifications import user_group_name
from agentwise.errors import Refusal

from . import events, selectors, services
from .models import Channel, Message
from .presence import PresenceAnnouncer, presence_announcer, presence_store

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FLOODING = 4429
MAX_FRAME_BYTES = 64 * 1024
FRAMES_PER_SECOND = 20  # per socket, any frame type; sends are also limited per user by the service


class FrameError(Exception):
    def __init__(self, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


def _require_str(frame: dict, name: str) -> str:
    value = frame.get(name)
    if not isinstance(value, str) or not value:
        raise FrameError("missing_field", f"`{name}` is required (a string).", {name: "required"})
    return value


@database_sync_to_async
def _load_channel(user, channel_id) -> Channel:
    try:
        return selectors.channel_get_visible(user=user, channel_id=channel_id)
    except Channel.DoesNotExist:
        raise FrameError("not_found", "No such channel.") from None


@database_sync_to_async
def _load_message(user, message_id, *, deleted_ok: bool = False) -> Message:
    """As the REST API: a deleted message is gone as itself (edit, delete, react: not_found)."""
    try:
        return selectors.message_get_visible(user=user, message_id=message_id, deleted_ok=deleted_ok)
    except Message.DoesNotExist:
        raise FrameError("not_found", "No such message.") from None


async def _publish_presence(channel_id: str, payload: dict) -> None:
    await get_channel_layer().group_send(events.channel_group(channel_id), events.group_event(payload))


class RealtimeConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or self.scope.get("auth_error"):
            # Accept, then close: a refused handshake would reach real clients as a bare HTTP 403,
            # while a close frame carries the documented 4401 code.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.me = await database_sync_to_async(events.author_payload)(user)  # reads the profile
        self.connection_id = uuid.uuid4().hex[:12]
        self.joined: set[str] = set()
        self.typing_tasks: dict[str, asyncio.Task] = {}
        self.strikes = 0
        self.frame_window = (0, 0)  # (second, frames in it)
        self.personal_group = user_group_name(user.pk)
        await self.channel_layer.group_add(self.personal_group, self.channel_name)
        await self.accept()
        self.heartbeat_task = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code):
        if not hasattr(self, "personal_group"):
            return
        self.heartbeat_task.cancel()
        for task in self.typing_tasks.values():
            task.cancel()
        for channel_id in list(self.joined):
            await self._leave(channel_id)
        await self.channel_layer.group_discard(self.personal_group, self.channel_name)

    async def dispatch(self, message):
        """Channels (>= 4.2) closes stale database connections before every handler, by a hop to the
        single sync thread — once per frame delivered to each socket, queued behind database work
        (17% of a daphne process's CPU in benchmarks/realtime.py). Every database call here goes
        through database_sync_to_async, which already does that, so handlers run directly."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- frames in -----------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
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
        except ValueError:
            await self.send_error("bad_json", "The frame is not valid JSON.")
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
        except FrameError as error:
            await self.send_error(error.code, error.message, ref=ref, fields=error.fields)
        except ValidationError as error:
            fields = error.message_dict if hasattr(error, "error_dict") else None
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()) if fields else " ".join(error.messages)
            await self.send_error("invalid", message, ref=ref, fields=fields)
        except PermissionDenied as error:
            await self.send_error("forbidden", str(error) or "Not allowed.", ref=ref)
        except Http404:
            await self.send_error("not_found", "Not found.", ref=ref)
        except Refusal as refusal:
            await self.send_error(refusal.code, refusal.message, ref=ref, **refusal.extra)
            if refusal.code == "rate_limited":
                await self._strike()
            return
        except Exception:  # a bug must cost one frame, not the connection
            logger.exception("Unhandled error in %s frame", frame["type"])
            await self.send_error("server_error", "Something went wrong on our side; it has been logged.", ref=ref)
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
            await self.close(code=CLOSE_FLOODING)

    async def on_ping(self, frame):
        await self.send_json({"type": "pong"})

    async def on_join(self, frame):
        channel = await _load_channel(self.user, _require_str(frame, "channel"))
        channel_id = str(channel.pk)
        if channel_id not in self.joined:
            await self.channel_layer.group_add(events.channel_group(channel_id), self.channel_name)
            self.joined.add(channel_id)
            if await presence_store().join(channel_id, self.user.pk, self.connection_id, self.me):
                self._announcer().joined(channel_id, self.me)
        users = sorted(await presence_store().profiles(channel_id), key=lambda u: u.get("username", "").lower())
        await self.send_json({"type": "presence:sync", "channel": channel_id, "users": users, "last_seq": channel.last_seq})

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
        channel = await _load_channel(self.user, _require_str(frame, "channel"))
        content = frame.get("content", "")
        parent_id = frame.get("parent")
        attachments = frame.get("attachments") or []
        if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
            raise FrameError("invalid", "`attachments` is a list of attachment ids.", {"attachments": "invalid"})
        parent = await _load_message(self.user, parent_id, deleted_ok=True) if parent_id else None
        message = await database_sync_to_async(services.message_post)(
            actor=self.user,
            channel=channel,
            content=content,
            content_type=frame.get("content_type") or "text",
            parent=parent,
            client_id=frame.get("client_id") or "",
            attachment_ids=attachments,
        )
        await self._stop_typing(str(channel.pk))
        await self.send_json({"type": "ack", "client_id": frame.get("client_id"), "id": str(message.pk), "seq": message.seq})

    async def on_edit(self, frame):
        message = await _load_message(self.user, _require_str(frame, "id"))
        await database_sync_to_async(services.message_edit)(actor=self.user, message=message, content=frame.get("content"))

    async def on_delete(self, frame):
        message = await _load_message(self.user, _require_str(frame, "id"))
        await database_sync_to_async(services.message_delete)(actor=self.user, message=message)

    async def on_react(self, frame):
        message = await _load_message(self.user, _require_str(frame, "message"))
        await database_sync_to_async(services.reaction_toggle)(actor=self.user, message=message, emoji=frame.get("emoji"))

    async def on_typing_start(self, frame):
        channel_id = _require_str(frame, "channel")
        if channel_id not in self.joined:
            raise FrameError("not_joined", "Join the channel before typing in it.")
        previous = self.typing_tasks.pop(channel_id, None)
        if previous is None:
            await self._typing(channel_id, True)
        else:
            previous.cancel()
        self.typing_tasks[channel_id] = asyncio.create_task(self._typing_expires(channel_id))

    async def on_typing_stop(self, frame):
        await self._stop_typing(_require_str(frame, "channel"))

    async def _typing_expires(self, channel_id: str):
        await asyncio.sleep(settings.TYPING_TTL_SECONDS)
        self.typing_tasks.pop(channel_id, None)
        await self._typing(channel_id, False)

    async def _stop_typing(self, channel_id: str):
        task = self.typing_tasks.pop(channel_id, None)
        if task is not None:
            task.cancel()
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
    }

    # --- presence upkeep -------------------------------------------------------------------------

    async def _heartbeat(self):
        while True:
            await asyncio.sleep(settings.PRESENCE_HEARTBEAT_SECONDS)
            try:
                store = presence_store()
                if self.joined:
                    await store.heartbeat(list(self.joined), self.user.pk, self.connection_id)
                for channel_id in list(self.joined):
                    for user_id in await store.sweep(channel_id):
                        self._announcer().left(channel_id, {"id": user_id})
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis hiccup must not kill the socket; the next beat retries
                continue

    # --- frames out ------------------------------------------------------------------------------

    def _announcer(self) -> PresenceAnnouncer:
        return presence_announcer(_publish_presence)

    async def _broadcast(self, channel_id: str, payload: dict, exclude: str | None = None):
        await self.channel_layer.group_send(
            events.channel_group(channel_id), events.group_event(payload, exclude=exclude)
        )

    async def community_event(self, event):
        if event.get("exclude") and event["exclude"] == self.channel_name:
            return
        await self.send(text_data=event["text"])

    async def notification(self, event):
        """Group message ``{"type": "notification", "payload": {...}}`` sent to the user's personal group."""
        await self.send_json({"type": "notification", **event["payload"]})

    async def send_json(self, payload: dict) -> None:
        await self.send(text_data=events.frame_text(payload))

    async def send_error(self, code: str, message: str, ref: str | None = None, **extra) -> None:
        error = {"type": "error", "code": code, "message": message}
        if ref:
            error["ref"] = ref
        error.update({k: v for k, v in extra.items() if v is not None})
        await self.send_json(error)
