"""Sockets follow access: whatever ends a credential, a membership or a privilege ends it on open sockets
too, at once — through the service, the API, the admin, or (by the heartbeat's safety net) a shell."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from accounts import services as account_services
from accounts.models import ApiKey, User
from community import services
from community.models import ChannelMember
from tests.factories import StaffFactory, UserFactory, make_api_key, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


async def joined(connect, user, channel, **kwargs):
    socket = await connect(user, **kwargs)
    await socket.send(type="channel:join", channel=str(channel.pk))
    sync = await socket.recv()
    assert sync["type"] == "presence:sync"
    return socket


async def ping_pong(socket) -> None:
    await socket.send(type="ping")
    assert (await socket.recv(skip=("presence:diff", "user:typing"))) == {"type": "pong"}


def _session(user) -> tuple[Client, str]:
    """A signed-in browser session; its first page view records it among the user's sessions."""
    client = sign_in(Client(), user)
    client.get("/account/security/")
    return client, client.cookies["sessionid"].value


# --- credentials --------------------------------------------------------------------------------


async def test_revoking_a_key_closes_its_sockets_and_only_those(connect, people):
    alice = people["alice"]
    by_key = await connect(alice)
    other_key = await connect(alice)
    await sync_to_async(account_services.api_key_revoke)(actor=alice, api_key=by_key.api_key)
    assert await by_key.closed_with() == 4401
    await ping_pong(other_key)  # another credential of the same user stays open


async def test_revoking_a_key_through_the_api_closes_its_socket(connect, people):
    alice = people["alice"]
    socket = await connect(alice)
    client, _ = await sync_to_async(_session)(alice)
    response = await sync_to_async(client.delete)(f"/api/keys/{socket.api_key.pk}/", content_type="application/json")
    assert response.status_code == 204
    assert await socket.closed_with() == 4401


async def test_revoking_a_key_in_the_admin_closes_its_socket(connect, people):
    alice, moderator = people["alice"], people["staff"]
    socket = await connect(alice)
    await sync_to_async(User.objects.filter(pk=moderator.pk).update)(is_superuser=True)
    client, _ = await sync_to_async(_session)(moderator)
    response = await sync_to_async(client.post)(
        "/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [str(socket.api_key.pk)]}
    )
    assert response.status_code == 302
    assert await socket.closed_with() == 4401


async def test_deactivating_a_user_closes_all_their_sockets(connect, people):
    alice = people["alice"]
    sockets = [await connect(alice), await connect(alice)]
    bob = await connect(people["bob"])
    await sync_to_async(account_services.user_access_update)(actor=people["staff"], user=alice, is_active=False)
    for socket in sockets:
        assert await socket.closed_with() == 4401
    await ping_pong(bob)


async def test_removing_staff_status_closes_their_sockets(connect, people):
    moderator = people["staff"]
    socket = await connect(moderator)
    boss = await sync_to_async(StaffFactory)()
    await sync_to_async(account_services.user_access_update)(actor=boss, user=moderator, is_staff=False)
    assert await socket.closed_with() == 4401


async def test_signing_out_closes_that_sessions_sockets_only(connect, people):
    alice = people["alice"]
    laptop, laptop_cookie = await sync_to_async(_session)(alice)
    _, phone_cookie = await sync_to_async(_session)(alice)
    on_laptop = await connect(alice, cookie=laptop_cookie)
    on_phone = await connect(alice, cookie=phone_cookie)
    await sync_to_async(laptop.post)("/account/logout/")
    assert await on_laptop.closed_with() == 4401
    await ping_pong(on_phone)


async def test_changing_the_password_closes_other_sessions_but_not_this_one_or_keys(connect, people):
    alice = people["alice"]
    here, here_cookie = await sync_to_async(_session)(alice)
    _, elsewhere_cookie = await sync_to_async(_session)(alice)
    on_here = await connect(alice, cookie=here_cookie)
    on_elsewhere = await connect(alice, cookie=elsewhere_cookie)
    by_key = await connect(alice)
    response = await sync_to_async(here.post)(
        "/account/password/change/",
        {"oldpassword": "correct-horse-battery-staple", "password1": "a-new-long-passphrase-9", "password2": "a-new-long-passphrase-9"},
    )
    assert response.status_code == 302
    assert await on_elsewhere.closed_with() == 4401
    await ping_pong(on_here)  # the session that changed it stays signed in (Django keeps its hash current)
    await ping_pong(by_key)


async def test_signing_out_everywhere_else_closes_the_other_sessions_sockets(connect, people):
    alice = people["alice"]
    here, here_cookie = await sync_to_async(_session)(alice)
    _, elsewhere_cookie = await sync_to_async(_session)(alice)
    on_here = await connect(alice, cookie=here_cookie)
    on_elsewhere = await connect(alice, cookie=elsewhere_cookie)
    response = await sync_to_async(here.post)("/account/sessions/", {"action": "logout"})
    assert response.status_code in (200, 302)
    assert await on_elsewhere.closed_with() == 4401
    await ping_pong(on_here)


async def test_a_write_acts_as_the_user_the_database_has_now(connect, people, channels_):
    """No event at all (a queryset in a shell): the very next write re-reads the user and is refused."""
    alice = people["alice"]
    socket = await joined(connect, alice, channels_["general"])
    await sync_to_async(User.objects.filter(pk=alice.pk).update)(is_active=False)
    await socket.send(type="message:send", channel=str(channels_["general"].pk), content="still here?", client_id="x")
    assert await socket.closed_with() == 4401


async def test_the_heartbeat_closes_a_socket_whose_key_was_revoked_by_a_queryset(connect, people, settings):
    settings.PRESENCE_HEARTBEAT_SECONDS = 0.2
    socket = await connect(people["alice"])
    from django.utils import timezone

    await sync_to_async(ApiKey.objects.filter(pk=socket.api_key.pk).update)(revoked_at=timezone.now())
    assert await socket.closed_with(timeout=5) == 4401


# --- channel membership -------------------------------------------------------------------------


async def test_a_removed_member_leaves_the_channel_and_gets_nothing_more(connect, people, channels_):
    private, member = channels_["private"], people["member"]
    watcher = await joined(connect, people["staff"], private)
    removed = await joined(connect, member, private)
    await sync_to_async(services.channel_member_remove)(actor=people["staff"], channel=private, user=member)
    notice = await removed.recv()
    assert notice == {"type": "channel:removed", "channel": str(private.pk),
                      "message": "You no longer have access to this channel."}
    await sync_to_async(services.message_post)(actor=people["staff"], channel=private, content="after removal")
    assert (await watcher.recv(skip=("presence:diff", "user:typing")))["type"] == "message:new"
    assert await removed.expect_nothing(timeout=0.5)  # not the message, not presence
    await ping_pong(removed)  # the socket itself lives on, without the channel
    await removed.send(type="typing:start", channel=str(private.pk))
    assert (await removed.recv())["code"] == "not_joined"
    await removed.send(type="channel:join", channel=str(private.pk))
    assert (await removed.recv())["code"] == "not_found"


async def test_a_removed_members_presence_ends_for_the_others(connect, people, channels_):
    private, member = channels_["private"], people["member"]
    watcher = await joined(connect, people["staff"], private)
    await joined(connect, member, private)
    while True:  # wait until the member is announced
        diff = await watcher.recv(skip=())
        if diff["type"] == "presence:diff" and "member" in [u["username"] for u in diff["joined"]]:
            break
    await sync_to_async(services.channel_member_remove)(actor=people["staff"], channel=private, user=member)
    while True:
        diff = await watcher.recv(skip=("user:typing",))
        if diff["type"] == "presence:diff" and diff["left"]:
            assert [u["username"] for u in diff["left"]] == ["member"]
            break


async def test_making_a_channel_private_removes_everyone_who_is_not_a_member(connect, people, channels_):
    general = channels_["general"]
    outsider = await joined(connect, people["alice"], general)
    moderator = await joined(connect, people["staff"], general)
    member = await joined(connect, people["bob"], general)
    await sync_to_async(ChannelMember.objects.create)(channel=general, user=people["bob"])
    await sync_to_async(services.channel_update)(actor=people["staff"], channel=general, data={"is_private": True})
    assert (await outsider.recv())["type"] == "channel:removed"
    await sync_to_async(services.message_post)(actor=people["bob"], channel=general, content="members only")
    assert (await member.recv(skip=("presence:diff", "user:typing")))["type"] in ("message:new", "ack")
    assert (await moderator.recv(skip=("presence:diff", "user:typing")))["type"] == "message:new"  # staff see all
    assert await outsider.expect_nothing(timeout=0.5)


async def test_removing_a_member_in_the_admin_inline_removes_their_socket(connect, people, channels_):
    private, member = channels_["private"], people["member"]
    removed = await joined(connect, member, private)
    moderator = people["staff"]
    await sync_to_async(User.objects.filter(pk=moderator.pk).update)(is_superuser=True)
    client, _ = await sync_to_async(_session)(moderator)
    membership = await sync_to_async(ChannelMember.objects.get)(channel=private, user=member)
    data = {
        "name": private.name, "description": "", "category": private.category, "type": private.type,
        "is_private": "on", "state": private.state, "position": private.position, "permissions": "{}",
        "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
        "members-TOTAL_FORMS": "1", "members-INITIAL_FORMS": "1", "members-MIN_NUM_FORMS": "0", "members-MAX_NUM_FORMS": "1000",
        "members-0-id": str(membership.pk), "members-0-channel": str(private.pk), "members-0-user": str(member.pk),
        "members-0-DELETE": "on",
    }
    response = await sync_to_async(client.post)(f"/admin/community/channel/{private.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert (await removed.recv())["type"] == "channel:removed"


async def test_the_heartbeat_removes_a_member_deleted_by_a_queryset(connect, people, channels_, settings):
    settings.PRESENCE_HEARTBEAT_SECONDS = 0.2
    private, member = channels_["private"], people["member"]
    removed = await joined(connect, member, private)
    await sync_to_async(ChannelMember.objects.filter(channel=private, user=member).delete)()
    assert (await removed.recv(timeout=5))["type"] == "channel:removed"


async def test_a_write_after_removal_is_refused_even_before_any_event(connect, people, channels_):
    private, member = channels_["private"], people["member"]
    socket = await joined(connect, member, private)
    await sync_to_async(ChannelMember.objects.filter(channel=private, user=member).delete)()
    await socket.send(type="message:send", channel=str(private.pk), content="sneak", client_id="s")
    error = await socket.recv()
    assert error["type"] == "error" and error["code"] == "not_found" and error["ref"] == "s"
    assert not await sync_to_async(private.messages.filter(content="sneak").exists)()


async def test_presence_sync_says_what_the_socket_may_do(connect, people, channels_):
    for user, channel, expected in [
        (people["alice"], channels_["general"], {"can_post": True, "can_edit_own": True, "can_delete_any": False}),
        (people["alice"], channels_["read_only"], {"can_post": False, "can_react": True}),
        (people["staff"], channels_["read_only"], {"can_post": True, "can_edit_any": True, "can_delete_any": True}),
        (people["alice"], channels_["archived"], {"can_post": False, "can_react": False, "can_edit_own": False}),
    ]:
        socket = await connect(user)
        await socket.send(type="channel:join", channel=str(channel.pk))
        sync = await socket.recv()
        assert {key: sync["can"][key] for key in expected} == expected, (user.username, channel.name)


async def test_the_twenty_first_socket_of_a_user_is_closed_with_4429(connect, people, settings):
    settings.WS_MAX_SOCKETS_PER_USER = 3
    alice = people["alice"]
    key = await sync_to_async(make_api_key)(alice, name="tabs")
    sockets = [await connect(alice, api_key=key) for _ in range(3)]
    extra = await connect(alice, api_key=key)
    assert await extra.closed_with() == 4429
    await sockets[0].close()
    again = await connect(alice, api_key=key)  # a closed socket frees its place at once
    await ping_pong(again)


async def test_a_deleted_user_is_4401_at_connect(connect, people):
    user = await sync_to_async(UserFactory)()
    key = await sync_to_async(make_api_key)(user)
    await sync_to_async(User.objects.filter(pk=user.pk).update)(is_active=False)
    from channels.testing import WebsocketCommunicator

    from agentwise.asgi import application

    from .conftest import HOST, ORIGIN

    communicator = WebsocketCommunicator(application, "/ws/", headers=[ORIGIN, HOST, (b"authorization", f"Bearer {key[1]}".encode())])
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_output())["code"] == 4401
