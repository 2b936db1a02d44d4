"""A blocked address is refused at the websocket handshake too; staff and other addresses connect."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from agentwise.asgi import application
from moderation import bots
from tests.factories import StaffFactory, UserFactory, make_api_key

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")
BLOCKED_IP = "203.0.113.66"


def from_address(address):
    async def app(scope, receive, send):
        return await application({**scope, "client": [address, 50000]}, receive, send)

    return app


async def handshake(user, address) -> bool:
    _, raw = await sync_to_async(make_api_key)(user, name="ws")
    communicator = WebsocketCommunicator(
        from_address(address), "/ws/", headers=[ORIGIN, HOST, (b"authorization", f"Bearer {raw}".encode())]
    )
    connected, _ = await communicator.connect(timeout=10)
    await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
async def test_a_blocked_address_cannot_open_a_socket_while_others_and_staff_can(reference_data):
    member, staff = await sync_to_async(UserFactory)(), await sync_to_async(StaffFactory)()
    assert await handshake(member, BLOCKED_IP)
    await sync_to_async(bots.bot_block)(address=BLOCKED_IP, score=0.95, pattern={"signals": {"scanner_paths": 1}})
    assert not await handshake(member, BLOCKED_IP)
    assert await handshake(member, "198.51.100.20")
    assert await handshake(staff, BLOCKED_IP)
