"""CSRF: every form that posts carries a token, and every place a page form posts to refuses a POST
without one (403), for members, staff in the admin and anonymous visitors alike."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client

from tests.security.routes import admin_pages, parameterless_pages, parametrised_pages

pytestmark = pytest.mark.django_db

# Posting without a token is the point of these: the signed token in the URL is the authorisation, and
# RFC 8058's one-click unsubscribe POST comes from a mail client that has no CSRF token (docs/security.md).
TOKEN_IS_THE_AUTHORISATION = ("/newsletter/unsubscribe/",)


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._open = {"method": values.get("method", "get").lower(), "action": values.get("action", ""), "token": False}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and values.get("name") == "csrfmiddlewaretoken" and values.get("value"):
            self._open["token"] = True

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def post_forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return [form for form in parser.forms if form["method"] == "post"]


def _walk_forms(client, paths):
    """{action path: page it was found on} for every POST form on ``paths``; asserts each carries a token."""
    actions = {}
    for path in paths:
        response = client.get(path)
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        for form in post_forms(response.content.decode()):
            action = urljoin(path, form["action"]) if form["action"] else path
            parts = urlsplit(action)
            if not parts.path.startswith(TOKEN_IS_THE_AUTHORISATION):
                assert form["token"], f"a form on {path} posting to {action} has no csrfmiddlewaretoken"
            assert parts.netloc in ("", "testserver"), (path, action)  # forms post to us (form-action 'self')
            actions.setdefault(parts.path + (f"?{parts.query}" if parts.query else ""), path)
    return actions


def _refused_without_a_token(client, actions):
    accepted = []
    for action, page in actions.items():
        client.get(page)  # the CSRF cookie is set: only the token is missing
        response = client.post(action, {})
        if response.status_code != 403 and not action.startswith(TOKEN_IS_THE_AUTHORISATION):
            accepted.append((action, page, response.status_code))
    assert accepted == []


def test_every_member_form_carries_a_token_and_is_refused_without_one(plain_world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(plain_world.author)
    actions = _walk_forms(client, parameterless_pages() + parametrised_pages(plain_world))
    # The walk found the forms that change things: sign-out, project settings, API keys, the newsletter...
    assert len(actions) > 15, actions
    assert "/account/logout/" in actions and f"/projects/{plain_world.project.pk}/status/" in actions
    _refused_without_a_token(client, actions)


def test_every_anonymous_form_carries_a_token_and_is_refused_without_one(plain_world):
    client = Client(enforce_csrf_checks=True)
    actions = _walk_forms(client, parameterless_pages() + parametrised_pages(plain_world))
    assert {"/account/login/", "/account/signup/", "/account/password/reset/"} <= set(actions), actions
    _refused_without_a_token(client, actions)


def test_every_admin_form_carries_a_token_and_is_refused_without_one(plain_world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(plain_world.staff)
    actions = _walk_forms(client, admin_pages())
    assert len(actions) > 40
    _refused_without_a_token(client, actions)


def test_the_api_refuses_a_session_write_without_a_token(plain_world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(plain_world.author)
    response = client.post("/api/projects/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
