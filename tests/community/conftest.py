"""Fixtures for community tests: channels of each kind and connected websocket clients."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.services import api_key_create
from agentwise.asgi import application
from community.models import Channel, ChannelMember
from tests.factories import StaffFactory, UserFactory

ORIGIN = (b"origin", b"http://localhost")


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


@pytest.fixture
def connect():
    opened = []

    async def open_socket(user) -> Socket:
        _, raw_key = await sync_to_async(api_key_create)(user=user, name="ws")
        communicator = WebsocketCommunicator(
            application, "/ws/", headers=[ORIGIN, (b"authorization", f"Bearer {raw_key}".encode())]
        )
        # Channels waits 1 s for the handshake by default; on a busy 2-core machine the auth query can take longer.
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        socket = Socket(communicator)
        opened.append(socket)
        return socket

    yield open_socket
