"""Shared fixtures for the report-queue and sanctions tests (imported by test_reports_*.py and test_sanctions_*.py)."""

import pytest
from rest_framework.test import APIClient

from community import services as community
from community.models import Channel, ChannelMember
from tests.factories import StaffFactory, UserFactory


@pytest.fixture
def place(db):
    """A public chat channel, a private one, a public forum and a private forum."""
    return {
        "chat": Channel.objects.create(name="general"),
        "private": Channel.objects.create(name="staff-room", is_private=True),
        "forum": Channel.objects.create(name="help", type="forum"),
        "private_forum": Channel.objects.create(name="secret-forum", type="forum", is_private=True),
    }


@pytest.fixture
def crowd(db, place):
    member = UserFactory(username="member")
    ChannelMember.objects.create(channel=place["private"], user=member)
    ChannelMember.objects.create(channel=place["private_forum"], user=member)
    return {
        "author": UserFactory(username="author"),
        "alice": UserFactory(username="alice"),
        "bob": UserFactory(username="bob"),
        "carol": UserFactory(username="carol"),
        "member": member,
        "staff": StaffFactory(username="mod"),
    }


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def message_by(user, channel, content="hello"):
    return community.message_post(actor=user, channel=channel, content=content)


def topic_by(user, forum, title="A topic", content="Some text"):
    return community.forum_post_create(actor=user, channel=forum, title=title, content=content)


def reply_by(user, post, content="An answer"):
    return community.forum_reply_create(actor=user, post=post, content=content)
