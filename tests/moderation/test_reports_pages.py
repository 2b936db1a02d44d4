"""The "Report" buttons on forum topics, replies and profiles (report.js posts them to the API)."""

import pytest
from django.test import Client

from tests.moderation import reports_support
from tests.moderation.reports_support import reply_by, topic_by

place, crowd = reports_support.place, reports_support.crowd  # fixtures

pytestmark = pytest.mark.django_db


def page(user, url):
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(url, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_a_member_sees_report_buttons_on_others_topics_replies_and_profiles(crowd, place):
    post = topic_by(crowd["author"], place["forum"])
    answer = reply_by(crowd["bob"], post)
    html = page(crowd["alice"], post.get_absolute_url())
    assert f'data-report-type="forum_post" data-report-id="{post.pk}"' in html
    assert f'data-report-type="forum_reply" data-report-id="{answer.pk}"' in html
    assert "js/report.js" in html
    profile = page(crowd["alice"], f"/u/{crowd['author'].username}/")
    assert f'data-report-type="profile" data-report-id="{crowd["author"].pk}"' in profile and "js/report.js" in profile


def test_no_report_button_on_your_own_content_or_for_anonymous_readers(crowd, place):
    post = topic_by(crowd["author"], place["forum"])
    assert "data-report-type" not in page(crowd["author"], post.get_absolute_url())
    assert "data-report-type" not in page(crowd["author"], f"/u/{crowd['author'].username}/")
    assert "data-report-type" not in page(None, post.get_absolute_url())
