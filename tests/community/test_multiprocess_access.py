"""Access that ends, ends on every process: real daphne processes, real websocket clients, and the change
made in this process through the service, the API and the admin. Needs Redis (CI sets it)."""

import asyncio
import json
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from accounts import services as account_services
from accounts.models import User
from community import services
from community.models import Channel, ChannelMember
from tests.factories import StaffFactory, UserFactory, make_api_key, sign_in
from tests.live import DaphneProcess, ws_connect, ws_frame

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: processes share Redis (CI sets it)"),
]

WITHIN = 5  # seconds: "within a few seconds"


@pytest.fixture(scope="module")
def servers(tmp_path_factory, django_db_setup):
    """Two daphne processes for the whole module, started once the test database exists (they are
    pointed at it by name)."""
    log_dir = tmp_path_factory.mktemp("daphne")
    started = [DaphneProcess(log_dir=log_dir).start() for _ in range(2)]
    yield started
    for server in started:
        server.stop()


async def _closed_with(ws, timeout=WITHIN) -> int:
    started = time.monotonic()
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout - (time.monotonic() - started))
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def _pong(ws) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    await ws_frame(ws, lambda f: f["type"] == "pong")


def _admin_client(moderator) -> Client:
    User.objects.filter(pk=moderator.pk).update(is_superuser=True)
    moderator.refresh_from_db()
    return sign_in(Client(), moderator)


@pytest.mark.parametrize("door", ["service", "api", "admin"])
async def test_a_revoked_key_closes_its_sockets_on_every_process(servers, door):
    alice = await sync_to_async(UserFactory)()
    revoked, kept = await sync_to_async(make_api_key)(alice), await sync_to_async(make_api_key)(alice)
    doomed = [await ws_connect(server, revoked[1]) for server in servers]
    survivor = await ws_connect(servers[1], kept[1])
    await _pong(doomed[0])
    await _pong(doomed[1])
    if door == "service":
        await sync_to_async(account_services.api_key_revoke)(actor=alice, api_key=revoked[0])
    elif door == "api":
        client = await sync_to_async(sign_in)(Client(), alice)
        response = await sync_to_async(client.delete)(f"/api/keys/{revoked[0].pk}/")
        assert response.status_code == 204
    else:
        client = await sync_to_async(_admin_client)(await sync_to_async(StaffFactory)())
        response = await sync_to_async(client.post)(
            "/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [str(revoked[0].pk)]}
        )
        assert response.status_code == 302
    for ws in doomed:
        assert await _closed_with(ws) == 4401
    await _pong(survivor)  # another key of the same user is untouched
    await survivor.close()


@pytest.mark.parametrize("door", ["service", "api", "admin"])
async def test_a_removed_member_leaves_the_channel_on_every_process(servers, door):
    moderator = await sync_to_async(StaffFactory)()
    member, other = await sync_to_async(UserFactory)(), await sync_to_async(UserFactory)()
    channel = await sync_to_async(Channel.objects.create)(name=f"private-{door}", is_private=True)
    for user in (member, other):
        await sync_to_async(ChannelMember.objects.create)(channel=channel, user=user)
    member_key, other_key = (await sync_to_async(make_api_key)(member))[1], (await sync_to_async(make_api_key)(other))[1]
    removed = [await ws_connect(server, member_key) for server in servers]
    witness = await ws_connect(servers[0], other_key)
    for ws in [*removed, witness]:
        await ws.send(json.dumps({"type": "channel:join", "channel": str(channel.pk)}))
        await ws_frame(ws, lambda f: f["type"] == "presence:sync")

    if door == "service":
        await sync_to_async(services.channel_member_remove)(actor=moderator, channel=channel, user=member)
    elif door == "api":
        client = await sync_to_async(sign_in)(Client(), moderator)
        response = await sync_to_async(client.delete)(f"/api/community/channels/{channel.pk}/members/{member.pk}/")
        assert response.status_code == 204
    else:
        client = await sync_to_async(_admin_client)(moderator)
        membership = await sync_to_async(ChannelMember.objects.get)(channel=channel, user=member)
        others = await sync_to_async(ChannelMember.objects.get)(channel=channel, user=other)
        data = {
            "name": channel.name, "description": "", "category": "", "type": "text", "is_private": "on",
            "state": "open", "position": "0", "permissions": "{}",
            "members-TOTAL_FORMS": "2", "members-INITIAL_FORMS": "2", "members-MIN_NUM_FORMS": "0",
            "members-MAX_NUM_FORMS": "1000",
            "members-0-id": str(membership.pk), "members-0-channel": str(channel.pk), "members-0-user": str(member.pk),
            "members-0-DELETE": "on",
            "members-1-id": str(others.pk), "members-1-channel": str(channel.pk), "members-1-user": str(other.pk),
        }
        response = await sync_to_async(client.post)(f"/admin/community/channel/{channel.pk}/change/", data)
        assert response.status_code == 302

    for ws in removed:
        notice = await ws_frame(ws, lambda f: f["type"] == "channel:removed", timeout=WITHIN)
        assert notice["channel"] == str(channel.pk)
    await sync_to_async(services.message_post)(actor=other, channel=channel, content="members only")
    await ws_frame(witness, lambda f: f["type"] == "message:new")
    for ws in removed:  # nothing of the channel reaches them afterwards; the socket itself lives on
        await ws.send(json.dumps({"type": "ping"}))
        frame = await ws_frame(ws, lambda f: True)
        assert frame == {"type": "pong"}
    for ws in [*removed, witness]:
        await ws.close()


async def test_a_deactivated_user_is_closed_on_every_process(servers):
    alice = await sync_to_async(UserFactory)()
    keys = [(await sync_to_async(make_api_key)(alice))[1] for _ in servers]
    sockets = [await ws_connect(server, key) for server, key in zip(servers, keys, strict=True)]
    moderator = await sync_to_async(StaffFactory)()
    await sync_to_async(account_services.user_access_update)(actor=moderator, user=alice, is_active=False)
    for ws in sockets:
        assert await _closed_with(ws) == 4401


async def _open_with_cookie(server, session_key):
    return await websockets.connect(
        server.ws_url, additional_headers={"Cookie": f"sessionid={session_key}", "Origin": server.url}, open_timeout=10
    )


def _signed_in_session(user) -> tuple[Client, str]:
    client = sign_in(Client(), user)
    client.get("/account/security/")  # recorded among the user's sessions
    return client, client.cookies["sessionid"].value


@pytest.mark.parametrize("how", ["sign out", "sign out everywhere else", "password change"])
async def test_an_ended_session_closes_its_sockets_on_every_process(servers, how):
    alice = await sync_to_async(UserFactory)()
    here, here_key = await sync_to_async(_signed_in_session)(alice)
    _, there_key = await sync_to_async(_signed_in_session)(alice)
    ended_key, kept_key = (here_key, there_key) if how == "sign out" else (there_key, here_key)
    ended = [await _open_with_cookie(server, ended_key) for server in servers]
    kept = [await _open_with_cookie(server, kept_key) for server in servers]
    for ws in [*ended, *kept]:
        await _pong(ws)
    if how == "sign out":
        await sync_to_async(here.post)("/account/logout/")
    elif how == "sign out everywhere else":
        await sync_to_async(here.post)("/account/sessions/", {"action": "logout"})
    else:
        response = await sync_to_async(here.post)("/account/password/change/", {
            "oldpassword": "correct-horse-battery-staple", "password1": "a-new-long-passphrase-9",
            "password2": "a-new-long-passphrase-9"})
        assert response.status_code == 302
    for ws in ended:
        assert await _closed_with(ws) == 4401
    for ws in kept:  # the other session (or, after a password change, the session that changed it)
        await _pong(ws)
        await ws.close()


async def test_removing_staff_status_closes_on_every_process(servers):
    moderator = await sync_to_async(StaffFactory)()
    keys = [(await sync_to_async(make_api_key)(moderator))[1] for _ in servers]
    sockets = [await ws_connect(server, key) for server, key in zip(servers, keys, strict=True)]
    boss = await sync_to_async(StaffFactory)()
    await sync_to_async(account_services.user_access_update)(actor=boss, user=moderator, is_staff=False)
    for ws in sockets:
        assert await _closed_with(ws) == 4401


async def test_making_a_channel_private_removes_non_members_on_every_process(servers):
    moderator = await sync_to_async(StaffFactory)()
    outsider, member = await sync_to_async(UserFactory)(), await sync_to_async(UserFactory)()
    channel = await sync_to_async(Channel.objects.create)(name="going-private")
    await sync_to_async(ChannelMember.objects.create)(channel=channel, user=member)
    outsiders = [await ws_connect(server, (await sync_to_async(make_api_key)(outsider))[1]) for server in servers]
    insider = await ws_connect(servers[1], (await sync_to_async(make_api_key)(member))[1])
    for ws in [*outsiders, insider]:
        await ws.send(json.dumps({"type": "channel:join", "channel": str(channel.pk)}))
        await ws_frame(ws, lambda f: f["type"] == "presence:sync")
    await sync_to_async(services.channel_update)(actor=moderator, channel=channel, data={"is_private": True})
    for ws in outsiders:
        assert (await ws_frame(ws, lambda f: f["type"] == "channel:removed", timeout=WITHIN))["channel"] == str(channel.pk)
    await sync_to_async(services.message_post)(actor=member, channel=channel, content="now private")
    await ws_frame(insider, lambda f: f["type"] == "message:new")
    for ws in outsiders:
        await ws.send(json.dumps({"type": "ping"}))
        assert await ws_frame(ws, lambda f: True) == {"type": "pong"}  # and no message:new before it
    for ws in [*outsiders, insider]:
        await ws.close()
