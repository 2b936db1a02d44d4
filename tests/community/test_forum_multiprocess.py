"""``forum:reply`` across processes: a reply posted through the REST API of one daphne process reaches
a websocket client watching the topic on a second one (Redis carries the group). Needs Redis; CI
sets REDIS_URL (and refuses to run without it), so this never silently skips there."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from community import services
from community.models import Channel
from tests.factories import UserFactory, make_api_key
from tests.live import DaphneProcess, ws_connect, ws_frame

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: processes share Redis (CI sets it)"),
]


@pytest.fixture
def two_servers(tmp_path):
    servers = [DaphneProcess(log_dir=tmp_path).start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


def _post_reply(server: DaphneProcess, raw_key: str, post_id, content: str) -> dict:
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/api/forum/posts/{post_id}/replies/",
        data=json.dumps({"content": content}).encode(),
        headers={"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


async def test_a_reply_posted_on_one_process_reaches_a_watcher_on_another(two_servers):
    one, two = two_servers
    author = await sync_to_async(UserFactory)(username="author")
    reader = await sync_to_async(UserFactory)(username="reader")
    forum = await sync_to_async(Channel.objects.create)(name="help", type="forum")
    post = await sync_to_async(services.forum_post_create)(
        actor=author, channel=forum, title="Deploying", content="How?"
    )
    author_key = (await sync_to_async(make_api_key)(author, name="api"))[1]
    reader_key = (await sync_to_async(make_api_key)(reader, name="ws"))[1]

    ws = await ws_connect(two, reader_key)
    try:
        await ws.send(json.dumps({"type": "forum:watch", "post": str(post.pk)}))
        await ws_frame(ws, lambda f: f["type"] == "forum:watching")
        created = await sync_to_async(_post_reply)(one, author_key, post.pk, "Use **daphne**.")
        frame = await ws_frame(ws, lambda f: f["type"] == "forum:reply")
        assert frame["post"] == str(post.pk)
        assert frame["reply"]["id"] == created["id"]
        assert "<strong>daphne</strong>" in frame["reply"]["content_html"]
        assert {k: v for k, v in created.items() if not k.startswith("can_")} == frame["reply"]
    finally:
        await ws.close()
