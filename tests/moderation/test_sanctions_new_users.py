"""New-user limits (Discourse's trust level 0): a lower posting rate and no links or images, lifted by age and good standing."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from moderation.models import DecisionKind, ModerationDecision
from tests.factories import UserFactory
from tests.moderation import reports_support
from tests.moderation.reports_support import client_for, topic_by

place, crowd = reports_support.place, reports_support.crowd  # fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(lambda: datetime.now(UTC), tick=False)]


def post_message(user, channel, content):
    return client_for(user).post(f"/api/community/channels/{channel.pk}/messages/", {"content": content}, format="json")


@pytest.mark.parametrize(
    "text",
    [
        "see https://spam.example/buy",
        "visit www.spam-shop.com now",
        "[cheap](http://x.example)",
        "[cheap]( /relative/path)",
        "![pic](https://img.example/a.png)",
        '<img src="x.png">',
        '<a href="https://x.example">x</a>',
        "HTTP://LOUD.EXAMPLE",
    ],
)
def test_a_new_user_cannot_post_links_or_images(place, text):
    newcomer = UserFactory(date_joined=datetime.now(UTC) - timedelta(days=1))
    response = post_message(newcomer, place["chat"], text)
    assert response.status_code == 400
    assert "links or images" in response.json()["error"]["fields"]["content"][0]


@pytest.mark.parametrize("text", ["plain words", "a [bracket] alone", "version 2.5.1 is out", "email me at a.b at example dot com", "e.g. this"])
def test_a_new_user_posts_plain_text(place, text):
    newcomer = UserFactory(date_joined=datetime.now(UTC) - timedelta(days=1))
    assert post_message(newcomer, place["chat"], text).status_code == 201


def test_links_in_a_topic_title_reply_and_page_are_refused_too(place):
    newcomer = UserFactory(date_joined=datetime.now(UTC))
    other = UserFactory()
    client = client_for(newcomer)
    created = client.post("/api/forum/posts/", {"channel": str(place["forum"].pk), "title": "go to https://x.example", "content": "hi"}, format="json")
    assert created.status_code == 400 and "links or images" in created.json()["error"]["fields"]["title"][0]
    post = topic_by(other, place["forum"])
    reply = client.post(f"/api/forum/posts/{post.pk}/replies/", {"content": "![x](https://x.example/x.png)"}, format="json")
    assert reply.status_code == 400
    browser = Client()
    browser.force_login(newcomer)
    page = browser.post(f"/forum/t/{post.pk}/reply/", {"content": "https://x.example"})
    assert page.status_code == 400 and "links or images" in page.content.decode()


def test_established_users_and_staff_post_links(place, crowd):
    assert post_message(crowd["alice"], place["chat"], "https://docs.example/page").status_code == 201
    new_staff = crowd["staff"]
    new_staff.date_joined = datetime.now(UTC)
    new_staff.save()
    assert post_message(new_staff, place["chat"], "https://docs.example/page").status_code == 201


def test_a_new_user_posts_at_a_lower_rate(place, settings, time_machine):
    settings.MODERATION_NEW_USER_POST_RATE = 2
    newcomer = UserFactory(date_joined=datetime.now(UTC))
    assert post_message(newcomer, place["chat"], "one").status_code == 201
    assert post_message(newcomer, place["chat"], "two").status_code == 201
    refused = post_message(newcomer, place["chat"], "three")
    assert refused.status_code == 429 and "New accounts" in refused.json()["error"]["message"]
    time_machine.shift(timedelta(hours=1, seconds=1))
    assert post_message(newcomer, place["chat"], "four").status_code == 201


def test_the_limits_lift_by_themselves_with_age(place, settings, time_machine):
    settings.MODERATION_NEW_USER_DAYS = 3
    newcomer = UserFactory(date_joined=datetime.now(UTC))
    assert post_message(newcomer, place["chat"], "https://x.example").status_code == 400
    time_machine.shift(timedelta(days=2, hours=23))
    assert post_message(newcomer, place["chat"], "https://x.example").status_code == 400
    time_machine.shift(timedelta(hours=2))
    assert post_message(newcomer, place["chat"], "https://x.example").status_code == 201


def test_the_limits_stay_while_a_removal_is_recent(place, crowd, settings, time_machine):
    """Good standing: an account old enough, with content removed two days ago, is limited until that is N days old."""
    settings.MODERATION_NEW_USER_DAYS = 3
    veteran = UserFactory(date_joined=datetime.now(UTC) - timedelta(days=2), username="veteran")
    time_machine.shift(timedelta(days=2))  # 4 days old
    ModerationDecision.objects.create(kind=DecisionKind.REMOVE, moderator=crowd["staff"], target_user=veteran, reason="spam")
    from moderation.sanctions import standing_forget

    standing_forget(veteran.pk)
    assert post_message(veteran, place["chat"], "https://x.example").status_code == 400
    time_machine.shift(timedelta(days=3, minutes=1))
    assert post_message(veteran, place["chat"], "https://x.example").status_code == 201
