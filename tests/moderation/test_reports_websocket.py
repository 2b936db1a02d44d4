"""The ``report`` websocket frame: the same rule as POST /api/reports/."""

import pytest
from asgiref.sync import sync_to_async

from community import services
from community.models import Channel
from moderation.models import ModerationItem
from tests.community.conftest import connect  # noqa: F401  (the websocket fixture)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scene(reference_data):
    public, private = Channel.objects.create(name="general"), Channel.objects.create(name="hidden", is_private=True)
    author, reporter = UserFactory(username="author"), UserFactory(username="reporter")
    return {
        "author": author, "reporter": reporter,
        "message": services.message_post(actor=author, channel=public, content="spam"),
        "private": services.message_post(actor=UserFactory(is_staff=True), channel=private, content="secret"),
    }


async def test_report_frame_files_a_report_and_a_repeat_returns_it(connect, scene):  # noqa: F811
    socket = await connect(scene["reporter"])
    await socket.send(type="report", content_type="message", content_id=str(scene["message"].pk), reason="spam", client_id="r1")
    ok = await socket.recv()
    assert ok["type"] == "report:ok" and ok["created"] is True and ok["ref"] == "r1"
    await socket.send(type="report", content_type="message", content_id=str(scene["message"].pk), reason="again")
    again = await socket.recv()
    assert again["type"] == "report:ok" and again["id"] == ok["id"] and again["created"] is False
    item = await sync_to_async(ModerationItem.objects.get)()
    assert str(item.pk) == ok["id"] and item.reason == "spam"


async def test_report_frame_errors(connect, scene):  # noqa: F811
    socket = await connect(scene["reporter"])
    await socket.send(type="report", content_type="message", content_id=str(scene["private"].pk), reason="x")
    frame = await socket.recv()
    assert frame["type"] == "error" and frame["code"] == "not_found" and "secret" not in str(frame)
    await socket.send(type="report", content_type="message", content_id=str(scene["message"].pk), reason="")
    frame = await socket.recv()
    assert frame["type"] == "error" and frame["code"] == "invalid" and "reason" in frame["fields"]
    await socket.send(type="report", content_type="message", content_id=str(scene["message"].pk))
    frame = await socket.recv()
    assert frame["type"] == "error" and "reason" in frame["fields"]
    await socket.send(type="report", content_type="message")
    frame = await socket.recv()
    assert frame["type"] == "error" and frame["code"] == "missing_field"
    assert not await sync_to_async(ModerationItem.objects.exists)()
