"""Community REST API: visibility, history cursors, threads, edits, reactions, read markers, attachments."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from community import services
from community.models import Message

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    """A browser session (the file download is a plain page view, not a DRF view)."""
    client = Client()
    client.force_login(user)
    return client


def as_user(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def post(user, channel, content, **kwargs):
    return services.message_post(actor=user, channel=channel, content=content, **kwargs)


@pytest.mark.parametrize(
    "who, status",
    [("anonymous", 401), ("alice", 404), ("member", 200), ("staff", 200)],
)
def test_private_channel_history_is_404_for_non_members(people, channels_, who, status):
    user = None if who == "anonymous" else people[who]
    response = as_user(user).get(f"/api/community/channels/{channels_['private'].pk}/messages/")
    assert response.status_code == status


@pytest.mark.parametrize(
    "who, expected",
    [
        ("alice", ["general", "announcements", "rules", "old"]),
        ("member", ["general", "announcements", "rules", "old", "staff-room"]),
        ("staff", ["general", "announcements", "rules", "old", "staff-room"]),
    ],
)
def test_channel_list_shows_visible_channels_in_sidebar_order(people, channels_, who, expected):
    names = [c["name"] for c in as_user(people[who]).get("/api/community/channels/").json()["results"]]
    assert names == expected


def test_unread_counts_and_read_marker(people, channels_):
    general = channels_["general"]
    for index in range(3):
        post(people["bob"], general, f"m{index}")
    root = Message.objects.filter(channel=general).order_by("seq").first()
    post(people["bob"], general, "reply", parent=root)  # thread replies are not channel unread
    client = as_user(people["alice"])
    unread = {c["name"]: c["unread"] for c in client.get("/api/community/channels/").json()["results"]}
    assert unread["general"] == 3
    assert client.post(f"/api/community/channels/{general.pk}/read/", {"seq": 2}, format="json").json() == {"last_read_seq": 2}
    assert client.post(f"/api/community/channels/{general.pk}/read/", {"seq": 1}, format="json").json() == {"last_read_seq": 2}
    unread = {c["name"]: c["unread"] for c in client.get("/api/community/channels/").json()["results"]}
    assert unread["general"] == 1


def test_read_marker_refuses_a_thread_of_another_channel(people, channels_):
    root = post(people["bob"], channels_["general"], "root")
    response = as_user(people["alice"]).post(
        f"/api/community/channels/{channels_['private'].pk}/read/", {"seq": 1, "thread": str(root.pk)}, format="json"
    )
    assert response.status_code == 404  # not a member of the private channel: it does not exist for her
    response = as_user(people["member"]).post(
        f"/api/community/channels/{channels_['private'].pk}/read/", {"seq": 1, "thread": str(root.pk)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"thread": ["Not a message of this channel."]}


def test_history_is_newest_first_with_before_and_after_cursors(people, channels_):
    general = channels_["general"]
    messages = [post(people["alice"], general, f"m{index}") for index in range(7)]
    post(people["alice"], general, "a reply", parent=messages[0])
    client = as_user(people["bob"])
    url = f"/api/community/channels/{general.pk}/messages/"
    first = client.get(url, {"limit": 3}).json()
    assert [m["content"] for m in first["results"]] == ["m6", "m5", "m4"] and first["has_more"]
    older = client.get(url, {"limit": 3, "before": first["results"][-1]["id"]}).json()
    assert [m["content"] for m in older["results"]] == ["m3", "m2", "m1"] and older["has_more"]
    last = client.get(url, {"limit": 3, "before": older["results"][-1]["id"]}).json()
    assert [m["content"] for m in last["results"]] == ["m0"] and not last["has_more"]
    caught_up = client.get(url, {"after": messages[2].pk, "limit": 2}).json()
    assert [m["content"] for m in caught_up["results"]] == ["m4", "m3"] and caught_up["has_more"]
    rest = client.get(url, {"after": messages[4].pk}).json()
    assert [m["content"] for m in rest["results"]] == ["m6", "m5"] and not rest["has_more"]
    gap = client.get(url, {"after": messages[1].pk, "before": messages[5].pk}).json()
    assert [m["content"] for m in gap["results"]] == ["m4", "m3", "m2"] and not gap["has_more"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": ["5", "6"]}, "limit"),
        ({"before": "nope"}, "before"),
        ({"after": "00000000-0000-0000-0000-000000000000"}, "after"),
        ({"page": "1"}, None),  # not a paginated list: an unknown parameter is ignored
    ],
)
def test_bad_history_parameters_are_400(people, channels_, params, field):
    response = as_user(people["alice"]).get(f"/api/community/channels/{channels_['general'].pk}/messages/", params)
    if field is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 400 and field in response.json()["error"]["fields"]


def test_send_by_rest_edit_history_delete_keeps_thread(people, channels_):
    general = channels_["general"]
    client = as_user(people["alice"])
    created = client.post(f"/api/community/channels/{general.pk}/messages/", {"content": "draft", "client_id": "x"}, format="json")
    assert created.status_code == 201
    message_id = created.json()["id"]
    assert created.json()["seq"] == 1 and created.json()["client_id"] == "x"
    reply = client.post(f"/api/community/channels/{general.pk}/messages/", {"content": "re", "parent": message_id}, format="json")
    assert reply.json()["parent"] == message_id
    assert client.patch(f"/api/community/messages/{message_id}/", {"content": "final"}, format="json").json()["content"] == "final"
    history = as_user(people["bob"]).get(f"/api/community/messages/{message_id}/edits/").json()["results"]
    assert [h["content"] for h in history] == ["draft"]
    assert client.delete(f"/api/community/messages/{message_id}/").status_code == 204
    thread = as_user(people["bob"]).get(f"/api/community/messages/{message_id}/thread/").json()["results"]
    assert thread[0]["deleted"] is True and thread[0]["content"] == ""
    assert [m["content"] for m in thread[1:]] == ["re"]
    # Gone as itself (its earlier versions too); kept as a tombstone in its thread and the history.
    bob = as_user(people["bob"])
    for path in ("", "edits/"):
        assert bob.get(f"/api/community/messages/{message_id}/{path}").status_code == 404
    assert client.delete(f"/api/community/messages/{message_id}/").status_code == 404
    assert client.patch(f"/api/community/messages/{message_id}/", {"content": "back"}, format="json").status_code == 404
    assert bob.post(f"/api/community/messages/{message_id}/reactions/", {"emoji": "👍"}, format="json").status_code == 404
    page = bob.get(f"/api/community/channels/{general.pk}/messages/").json()["results"]
    assert [(m["id"], m["deleted"]) for m in page] == [(message_id, True)]


@pytest.mark.parametrize(
    "who, action, status",
    [
        ("bob", "patch", 403),
        ("bob", "delete", 403),
        ("staff", "patch", 200),
        ("staff", "delete", 204),
        ("alice", "patch", 200),
        ("anonymous", "patch", 401),
    ],
)
def test_only_the_author_or_staff_edit_and_delete(people, channels_, who, action, status):
    message = post(people["alice"], channels_["general"], "mine")
    client = as_user(None if who == "anonymous" else people[who])
    response = getattr(client, action)(f"/api/community/messages/{message.pk}/", {"content": "changed"}, format="json")
    assert response.status_code == status


def test_private_channel_messages_are_404_to_outsiders(people, channels_):
    message = post(people["member"], channels_["private"], "secret")
    for path in ["", "thread/", "edits/"]:
        assert as_user(people["alice"]).get(f"/api/community/messages/{message.pk}/{path}").status_code == 404
    assert as_user(people["alice"]).post(f"/api/community/messages/{message.pk}/reactions/", {"emoji": "👍"}, format="json").status_code == 404


@pytest.mark.parametrize("channel, status", [("locked", 403), ("read_only", 403), ("archived", 403), ("private", 404), ("general", 201)])
def test_posting_rules_over_rest(people, channels_, channel, status):
    response = as_user(people["alice"]).post(f"/api/community/channels/{channels_[channel].pk}/messages/", {"content": "hi"}, format="json")
    assert response.status_code == status


def test_reactions_summary_shows_me(people, channels_):
    message = post(people["alice"], channels_["general"], "vote")
    as_user(people["bob"]).post(f"/api/community/messages/{message.pk}/reactions/", {"emoji": "👍"}, format="json")
    result = as_user(people["alice"]).post(f"/api/community/messages/{message.pk}/reactions/", {"emoji": "👍"}, format="json").json()
    assert result == {"emoji": "👍", "added": True, "count": 2}
    mine = as_user(people["alice"]).get(f"/api/community/messages/{message.pk}/").json()["reactions"]
    theirs = as_user(people["staff"]).get(f"/api/community/messages/{message.pk}/").json()["reactions"]
    assert mine == {"👍": {"count": 2, "me": True}} and theirs == {"👍": {"count": 2, "me": False}}
    assert as_user(people["bob"]).post(f"/api/community/messages/{message.pk}/reactions/", {"emoji": "abc"}, format="json").status_code == 400


def test_attachment_upload_and_send(people, channels_):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    client = as_user(people["alice"])
    upload = client.post("/api/community/attachments/", {"file": SimpleUploadedFile("a.png", buffer.getvalue(), content_type="image/png")}, format="multipart")
    assert upload.status_code == 201
    attachment_id = upload.json()["id"]
    sent = client.post(f"/api/community/channels/{channels_['general'].pk}/messages/", {"content": "", "content_type": "image", "attachments": [attachment_id]}, format="json")
    assert sent.status_code == 201 and sent.json()["attachments"][0]["name"] == "a.png"
    again = client.post(f"/api/community/channels/{channels_['general'].pk}/messages/", {"content": "x", "attachments": [attachment_id]}, format="json")
    assert again.status_code == 400  # an attachment is used once
    bad = client.post("/api/community/attachments/", {"file": SimpleUploadedFile("x.exe", b"MZ", content_type="application/x-msdownload")}, format="multipart")
    assert bad.status_code == 400 and "file" in bad.json()["error"]["fields"]
    fake = client.post("/api/community/attachments/", {"file": SimpleUploadedFile("x.png", b"nope", content_type="image/png")}, format="multipart")
    assert fake.status_code == 400


@pytest.mark.parametrize(
    "name, declared, body, stored_type, extension",
    [
        ("a.png", "", "png", "image/png", "png"),  # no part Content-Type: the bytes say what it is
        ("photo", "application/octet-stream", "png", "image/png", "png"),
        ("a.txt", "image/png", "png", "image/png", "png"),
        ("evil.html", "text/plain", b"<script>alert(1)</script>", "text/plain", "txt"),  # never served as HTML
        ("data.json", "", b'{"a": 1}', "application/json", "json"),
        ("paper.pdf", "application/pdf", b"%PDF-1.4\n%%EOF", "application/pdf", "pdf"),
    ],
)
def test_attachment_type_comes_from_the_content_and_sets_the_stored_extension(people, name, declared, body, stored_type, extension):
    if body == "png":
        buffer = io.BytesIO()
        Image.new("RGB", (2, 2), "blue").save(buffer, format="PNG")
        body = buffer.getvalue()
    upload = SimpleUploadedFile(name, body, content_type=declared)
    response = as_user(people["alice"]).post("/api/community/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["content_type"] == stored_type
    assert response.json()["name"] == name
    assert response.json()["url"].endswith(f".{extension}")
    served = signed_in(people["alice"]).get(response.json()["url"])  # not attached yet: its uploader's alone
    assert served.status_code == 200 and served["Content-Type"].startswith(stored_type)
    disposition = served["Content-Disposition"]
    assert disposition.startswith("inline" if stored_type.startswith("image/") else "attachment")
    assert signed_in(people["bob"]).get(response.json()["url"]).status_code == 404
    if stored_type == "application/pdf":  # Chrome's PDF viewer refuses sandboxed documents
        assert served["Content-Security-Policy"] == "frame-ancestors 'none'"  # no sandbox, no object-src
    else:
        assert served["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize(
    "name, declared, body",
    [("x.pdf", "application/pdf", b"not a pdf"), ("x.svg", "image/svg+xml", b"<svg/>"), ("x", "", b"\x00\x01")],
)
def test_attachments_that_are_not_what_they_claim_or_not_allowed_are_400(people, name, declared, body):
    upload = SimpleUploadedFile(name, body, content_type=declared)
    response = as_user(people["alice"]).post("/api/community/attachments/", {"file": upload}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]


def test_history_query_count_is_constant(people, channels_, django_assert_max_num_queries, settings):
    settings.COMMUNITY_POST_RATE = {"messages": 1000, "seconds": 10}
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "community.reaction": "1000/minute"}
    general = channels_["general"]
    client = as_user(people["bob"])
    for count in (1, 60):
        for index in range(count):
            message = post(people["alice"], general, f"m{index}")
            services.reaction_toggle(actor=people["bob"], message=message, emoji="👍")
        with django_assert_max_num_queries(6):
            assert client.get(f"/api/community/channels/{general.pk}/messages/", {"limit": 100}).status_code == 200
        with django_assert_max_num_queries(6):
            assert client.get("/api/community/channels/").status_code == 200


@pytest.mark.parametrize("who, can_post, can_edit_any", [("alice", False, False), ("staff", True, True)])
def test_channels_say_what_you_may_do_there(people, channels_, who, can_post, can_edit_any):
    """The chat page reads these instead of guessing: staff may post in a read-only channel."""
    listed = {c["name"]: c for c in as_user(people[who]).get("/api/community/channels/").json()["results"]}
    rules = listed["rules"]  # read-only
    assert (rules["can_post"], rules["can_edit_any"], rules["can_react"]) == (can_post, can_edit_any, True)
    assert listed["general"]["can_post"] is True and listed["old"]["can_post"] is False  # archived


def test_rest_messages_carry_the_viewers_own_flags(people, channels_):
    message = post(people["alice"], channels_["general"], "mine")
    mine = as_user(people["alice"]).get(f"/api/community/messages/{message.pk}/").json()
    theirs = as_user(people["bob"]).get(f"/api/community/messages/{message.pk}/").json()
    assert (mine["can_edit"], mine["can_delete"]) == (True, True)
    assert (theirs["can_edit"], theirs["can_delete"], theirs["can_react"]) == (False, False, True)
