"""Forum counters stay exact under concurrency: replies and views from real threads, each with its own
database connection, against the configured database (PostgreSQL in CI)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from community import services
from community.models import Channel, ForumPost, ForumReply
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

REPLIES = 40


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connections.close_all()  # each worker thread opened its own connection

    return run


@pytest.fixture
def topic(settings, reference_data):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}
    forum = Channel.objects.create(name="help", type="forum")
    author = UserFactory()
    return services.forum_post_create(actor=author, channel=forum, title="Busy topic", content="Answer me")


def _workers() -> int:
    return 12 if connection.vendor == "postgresql" else 4


def test_concurrent_replies_and_deletes_keep_reply_count_and_last_reply_at_exact(topic):
    users = [UserFactory() for _ in range(4)]

    def reply(i):
        client = APIClient()
        client.force_authenticate(users[i % len(users)])
        return client.post(f"/api/forum/posts/{topic.pk}/replies/", {"content": f"reply {i}"}, format="json").status_code

    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        statuses = list(pool.map(_in_thread(reply), range(REPLIES)))
    assert statuses == [201] * REPLIES
    topic.refresh_from_db()
    assert topic.reply_count == REPLIES == ForumReply.objects.filter(post=topic).count()
    assert topic.last_reply_at == ForumReply.objects.filter(post=topic).latest("created_at").created_at

    doomed = list(ForumReply.objects.filter(post=topic).select_related("author").order_by("created_at")[:REPLIES // 2])

    def delete(reply):
        client = APIClient()
        client.force_authenticate(reply.author)
        return client.delete(f"/api/forum/replies/{reply.pk}/").status_code

    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        statuses = list(pool.map(_in_thread(delete), doomed))
    assert statuses == [204] * (REPLIES // 2)
    topic.refresh_from_db()
    live = ForumReply.objects.filter(post=topic, deleted_at__isnull=True)
    assert topic.reply_count == REPLIES // 2 == live.count()
    assert topic.last_reply_at == live.latest("created_at").created_at


def test_concurrent_views_count_each_viewer_once_and_lose_none(topic):
    viewers = [UserFactory() for _ in range(10)]

    def view(i):
        client = APIClient()
        client.force_authenticate(viewers[i % len(viewers)])
        return client.get(f"/api/forum/posts/{topic.pk}/").status_code

    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        statuses = list(pool.map(_in_thread(view), range(len(viewers) * 4)))  # each viewer four times at once
    assert statuses == [200] * (len(viewers) * 4)
    assert ForumPost.objects.get(pk=topic.pk).view_count == len(viewers)


def test_concurrent_solution_marks_leave_exactly_one(topic):
    replies = [services.forum_reply_create(actor=UserFactory(), post=topic, content=f"r{i}") for i in range(8)]

    def mark(reply):
        client = APIClient()
        client.force_authenticate(topic.author)
        return client.post(f"/api/forum/replies/{reply.pk}/solution/").status_code

    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        statuses = list(pool.map(_in_thread(mark), replies))
    assert statuses == [200] * len(replies)
    assert ForumReply.objects.filter(post=topic, is_solution=True).count() == 1
