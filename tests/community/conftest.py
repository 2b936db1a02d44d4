"""Fixtures for community tests: channels of each kind and connected websocket clients."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from agentwise.asgi import application
from community.models import Channel, ChannelMember
from tests.factories import StaffFactory, UserFactory, make_api_key

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")  # a browser's handshake always names the host its Origin must match


@pytest.fixture
def channels_(db):
    general = Channel.objects.create(name="general", category="Community", position=0)
    locked = Channel.objects.create(name="announcements", category="Community", position=1, is_locked=True)
    private = Channel.objects.create(name="staff-room", category="Staff", is_private=True)
    archived = Channel.objects.create(name="old", category="Community", position=9, state="archived")
    read_only = Channel.objects.create(name="rules", category="Community", position=2, state="read_only")
    return {"general": general, "locked": locked, "private": private, "archived": archived, "read_only": read_only}


@pytest.fixture
def people(db, channels_):
    member = UserFactory(username="member")
    ChannelMember.objects.create(channel=channels_["private"], user=member)
    return {"alice": UserFactory(username="alice"), "bob": UserFactory(username="bob"), "member": member,
            "staff": StaffFactory(username="mod")}


class Socket:
    """A websocket client for tests: JSON in and out, with a receive that skips frame types on request."""

    def __init__(self, communicator):
        self.c = communicator

    async def send(self, **frame):
        await self.c.send_to(text_data=json.dumps(frame))

    async def send_raw(self, text):
        await self.c.send_to(text_data=text)

    async def recv(self, timeout=3, skip=("presence:diff",)):
        while True:
            frame = json.loads(await self.c.receive_from(timeout=timeout))
            if frame["type"] not in skip:
                return frame

    async def expect_nothing(self, timeout=0.3):
        return await self.c.receive_nothing(timeout=timeout)

    async def close(self):
        await self.c.disconnect()

    async def closed_with(self, timeout=5) -> int:
        """Waits for the server to close the socket, skipping frames; returns the close code."""
        while True:
            output = await self.c.receive_output(timeout=timeout)
            if output["type"] == "websocket.close":
                return output.get("code")


@pytest.fixture
async def connect():
    """Opens sockets for a test and closes the ones still open at its end, inside the test's event loop
    (left to the loop's shutdown, their Redis unsubscribes would race the layer's own cancelled tasks)."""
    opened = []

    async def open_socket(user, *, api_key=None, cookie=None) -> Socket:
        """A socket authenticated by a new API key (kept as ``socket.api_key``), or by a session cookie."""
        if cookie is not None:
            headers = [ORIGIN, HOST, (b"cookie", f"sessionid={cookie}".encode())]
        else:
            if api_key is None:
                api_key = await sync_to_async(make_api_key)(user, name="ws")
            headers = [ORIGIN, HOST, (b"authorization", f"Bearer {api_key[1]}".encode())]
        communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
        # Channels waits 1 s for the handshake by default; on a busy 2-core machine the auth query can take longer.
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        socket = Socket(communicator)
        socket.api_key = api_key[0] if api_key else None
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        try:
            await socket.c.disconnect(timeout=3)
        except (Exception, asyncio.CancelledError):  # closed by the server already (4401, 4429), or timed out
            pass
