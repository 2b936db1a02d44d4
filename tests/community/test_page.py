"""The /community/ page: a shell for members that the JS module fills; nothing user-written is inlined raw."""

import json
import re

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/community/")
    assert response.status_code == 302 and response["Location"] == "/account/login/?next=/community/"


def test_member_gets_the_chat_shell_with_its_module_and_config(client):
    user = UserFactory(username="ada")
    client.force_login(user)
    response = client.get("/community/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script type="module" src="/static/js/community.js">' in html
    for element in ["channel-list", "messages", "composer-input", "typing", "online-list", "thread"]:
        assert f'id="{element}"' in html
    config = json.loads(re.search(r'<script id="community-config" type="application/json">(.*?)</script>', html).group(1))
    # No staff flag to re-derive rules from: the API sends can_post/can_edit/... computed server-side.
    assert config["me"]["username"] == "ada" and "isStaff" not in config
    assert config["api"] == "/api/community/" and config["ws"] == "/ws/"


def test_config_escapes_a_hostile_display_name(client):
    user = UserFactory(username="eve")
    user.profile.full_name = "</script><script>alert(1)</script>"
    user.profile.save()
    client.force_login(user)
    html = client.get("/community/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "\\u003C/script\\u003E" in html
