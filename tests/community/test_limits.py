"""Every community write has a per-user limit shared by REST and every socket of the user."""

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from community import services

pytestmark = pytest.mark.django_db(transaction=True)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


async def test_edits_are_limited_across_rest_and_sockets(connect, people, channels_, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "community.edit": "3/minute"}
    alice = people["alice"]
    message = await sync_to_async(services.message_post)(actor=alice, channel=channels_["general"], content="v0")
    client = await sync_to_async(api)(alice)
    for version in (1, 2):
        response = await sync_to_async(client.patch)(f"/api/community/messages/{message.pk}/", {"content": f"v{version}"}, format="json")
        assert response.status_code == 200
    socket = await connect(alice)
    await socket.send(type="message:edit", id=str(message.pk), content="v3")  # the third, from a socket
    await socket.send(type="message:edit", id=str(message.pk), content="v4", client_id="e4")
    error = await socket.recv(skip=("message:edited", "presence:diff"))
    assert error["type"] == "error" and error["code"] == "rate_limited" and error["ref"] == "e4"
    response = await sync_to_async(client.patch)(f"/api/community/messages/{message.pk}/", {"content": "v5"}, format="json")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    await sync_to_async(message.refresh_from_db)()
    assert message.content == "v3"


@pytest.mark.parametrize("limit, door", [("community.reaction", "react"), ("community.delete", "delete")])
def test_reactions_and_deletes_are_limited(people, channels_, settings, limit, door):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, limit: "2/minute"}
    alice = people["alice"]
    client = api(alice)
    statuses = []
    for index in range(3):
        message = services.message_post(actor=alice, channel=channels_["general"], content=f"m{index}")
        if door == "react":
            response = client.post(f"/api/community/messages/{message.pk}/reactions/", {"emoji": "👍"}, format="json")
        else:
            response = client.delete(f"/api/community/messages/{message.pk}/")
        statuses.append(response.status_code)
    assert statuses[:2] == ([200, 200] if door == "react" else [204, 204]) and statuses[2] == 429


async def test_typing_is_broadcast_at_most_once_per_window_per_user_across_sockets(connect, people, channels_, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "community.typing": "1 per 3 seconds"}
    general = str(channels_["general"].pk)
    watcher = await connect(people["bob"])
    await watcher.send(type="channel:join", channel=general)
    await watcher.recv()
    tabs = [await connect(people["alice"]), await connect(people["alice"])]
    for tab in tabs:
        await tab.send(type="channel:join", channel=general)
        await tab.recv()
    for _ in range(3):  # start/stop/start from two tabs: one broadcast, not six
        for tab in tabs:
            await tab.send(type="typing:start", channel=general)
            await tab.send(type="typing:stop", channel=general)
    frames = []
    try:
        while True:
            frames.append(await watcher.recv(timeout=0.5, skip=("presence:diff",)))
    except TimeoutError:
        pass
    starts = [f for f in frames if f["type"] == "user:typing" and f["typing"]]
    assert len(starts) == 1


async def test_a_user_holds_at_most_the_configured_number_of_sockets(connect, people, settings):
    settings.WS_MAX_SOCKETS_PER_USER = 2
    sockets = [await connect(people["alice"]) for _ in range(2)]
    third = await connect(people["alice"])
    assert await third.closed_with() == 4429
    other = await connect(people["bob"])  # per user, not global
    await other.send(type="ping")
    assert (await other.recv())["type"] == "pong"
    for socket in sockets:
        await socket.close()
