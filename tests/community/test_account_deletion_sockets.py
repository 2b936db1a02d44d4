"""Deleting an account closes every socket it had open (4401) at once, whichever credential opened it;
other people's sockets carry on."""

import time

import pytest
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from asgiref.sync import sync_to_async
from django.test import Client

from accounts.deletion import account_delete
from accounts.models import User
from tests.factories import StaffFactory, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


async def ping_pong(socket) -> None:
    await socket.send(type="ping")
    assert (await socket.recv(skip=("presence:diff", "user:typing"))) == {"type": "pong"}


def _reauthenticated_session(user) -> tuple[Client, str]:
    client = sign_in(Client(), user)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        *session[AUTHENTICATION_METHODS_SESSION_KEY], {"method": "password", "at": time.time(), "reauthenticated": True},
    ]
    session.save()
    client.get("/account/security/")  # recorded among the user's sessions
    return client, client.cookies["sessionid"].value


async def test_deleting_an_account_closes_its_key_and_session_sockets_with_4401(connect, people):
    alice, bob = people["alice"], people["bob"]
    by_key = await connect(alice)
    client, cookie = await sync_to_async(_reauthenticated_session)(alice)
    by_session = await connect(alice, cookie=cookie)
    bystander = await connect(bob)
    await ping_pong(by_session)
    response = await sync_to_async(client.delete)("/api/me/")
    assert response.status_code == 204
    assert await by_key.closed_with() == 4401
    assert await by_session.closed_with() == 4401
    await ping_pong(bystander)
    assert not await sync_to_async(User.objects.filter(pk=alice.pk).exists)()


async def test_staff_deleting_an_account_closes_its_sockets(connect, people):
    alice = people["alice"]
    socket = await connect(alice)
    staff = await sync_to_async(StaffFactory)(is_superuser=True)
    await sync_to_async(account_delete)(actor=staff, user=alice, remove_content=False, reason="ticket 7")
    assert await socket.closed_with() == 4401


async def test_removing_what_they_wrote_is_broadcast_as_deleted_messages(connect, people, channels_):
    alice, bob, general = people["alice"], people["bob"], channels_["general"]
    from community import services

    message = await sync_to_async(services.message_post)(actor=alice, channel=general, content="bye all")
    reader = await connect(bob)
    await reader.send(type="channel:join", channel=str(general.pk))
    assert (await reader.recv())["type"] == "presence:sync"
    staff = await sync_to_async(StaffFactory)(is_superuser=True)
    await sync_to_async(account_delete)(actor=staff, user=alice, remove_content=True, reason="asked by email")
    frame = await reader.recv(skip=("presence:diff", "presence:sync", "user:typing"))
    assert frame == {"type": "message:deleted", "id": str(message.pk), "channel": str(general.pk), "seq": message.seq}
