"""Attachments are served by a view that asks the message rules: a private channel's files to its members
only, a deleted message's files to nobody (and removed from storage), never-attached uploads to their
uploader only (and removed after a day). Only images display inline; names cannot spoof their type."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from community import services
from community.models import Attachment
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def upload(user, name="a.png", body=None, content_type="image/png") -> Attachment:
    return services.attachment_upload(actor=user, upload=SimpleUploadedFile(name, body or png(), content_type=content_type))


def attached(user, channel, attachment):
    return services.message_post(actor=user, channel=channel, content="see file", attachment_ids=[str(attachment.pk)])


def test_a_private_channels_file_goes_to_its_members_only(people, channels_):
    file = upload(people["member"])
    attached(people["member"], channels_["private"], file)
    url = file.as_dict()["url"]
    assert browser(people["member"]).get(url).status_code == 200
    assert browser(people["staff"]).get(url).status_code == 200  # staff read private channels
    assert browser(people["alice"]).get(url).status_code == 404  # not a member: as if it did not exist
    assert browser().get(url).status_code == 404  # signed out: nothing, not even a redirect revealing it
    key = make_api_key(people["member"])[1]
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(url).status_code == 200  # scripts, with their key
    assert Client(HTTP_AUTHORIZATION="Bearer aw_wrong").get(url).status_code == 401


def test_a_public_channels_file_goes_to_signed_in_members(people, channels_):
    file = upload(people["alice"])
    attached(people["alice"], channels_["general"], file)
    assert browser(people["bob"]).get(file.as_dict()["url"]).status_code == 200
    assert browser().get(file.as_dict()["url"]).status_code == 404


def test_a_deleted_messages_files_are_gone_for_everyone_and_swept_from_storage(people, channels_):
    file = upload(people["alice"])
    message = attached(people["alice"], channels_["general"], file)
    stored = file.file.name
    services.message_delete(actor=people["alice"], message=message)
    for viewer in (people["alice"], people["bob"], people["staff"]):
        assert browser(viewer).get(file.as_dict()["url"]).status_code == 404
    assert file.file.storage.exists(stored)
    assert services.attachments_sweep() == 1
    assert not file.file.storage.exists(stored) and not Attachment.objects.filter(pk=file.pk).exists()
    assert services.attachments_sweep() == 0  # safe to run twice


def test_uploads_never_attached_are_the_uploaders_and_swept_after_a_day(people):
    file = upload(people["alice"])
    assert browser(people["alice"]).get(file.as_dict()["url"]).status_code == 200
    assert browser(people["bob"]).get(file.as_dict()["url"]).status_code == 404
    assert services.attachments_sweep() == 0  # still within the day
    Attachment.objects.filter(pk=file.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert services.attachments_sweep() == 1
    assert not file.file.storage.exists(file.file.name)


@pytest.mark.parametrize(
    "name, body, declared, disposition",
    [
        ("a.png", None, "image/png", "inline"),
        ("notes.txt", b"hello", "text/plain", "attachment"),
        ("data.json", b"{}", "application/json", "attachment"),
        ("paper.pdf", b"%PDF-1.4\n%%EOF", "application/pdf", "attachment"),
    ],
)
def test_only_images_display_inline(people, name, body, declared, disposition):
    file = upload(people["alice"], name=name, body=body, content_type=declared)
    response = browser(people["alice"]).get(file.as_dict()["url"])
    assert response["Content-Disposition"].startswith(disposition)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "private" in response["Cache-Control"]


def test_right_to_left_overrides_in_names_are_neutralised(people):
    file = upload(people["alice"], name="invoice\u202egnp.exe", body=b"text", content_type="text/plain")
    assert file.name == "invoice_gnp.exe"
    response = browser(people["alice"]).get(file.as_dict()["url"])
    assert "\u202e" not in response["Content-Disposition"]
    api = APIClient()
    api.force_authenticate(people["alice"])
    uploaded = api.post("/api/community/attachments/", {"file": SimpleUploadedFile("x\u2067y.txt", b"t", content_type="text/plain")},
                        format="multipart")
    assert uploaded.status_code == 201 and "\u2067" not in uploaded.json()["name"]


def test_media_no_longer_serves_attachments_but_serves_avatars(people, settings):
    file = upload(people["alice"])
    assert browser(people["alice"]).get(f"/media/{file.file.name}").status_code == 404
    from accounts.services import profile_update

    profile = people["alice"].profile
    profile_update(actor=people["alice"], profile=profile, data={"avatar": SimpleUploadedFile("me.png", png(), content_type="image/png")})
    profile.refresh_from_db()
    assert browser().get(profile.avatar.url).status_code == 200  # avatars stay public


def test_message_payloads_point_at_the_checked_view(people, channels_):
    file = upload(people["alice"])
    message = attached(people["alice"], channels_["general"], file)
    api = APIClient()
    api.force_authenticate(people["bob"])
    body = api.get(f"/api/community/messages/{message.pk}/").json()
    assert body["attachments"][0]["url"] == f"/community/attachments/{file.pk}.png"


def test_the_daily_upload_quota_is_per_user_and_refused_uploads_do_not_count(people, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "community.upload_bytes": "100/day"}
    api = APIClient()
    api.force_authenticate(people["alice"])
    first = api.post("/api/community/attachments/", {"file": SimpleUploadedFile("a.txt", b"x" * 60, content_type="text/plain")},
                     format="multipart")
    assert first.status_code == 201
    over = api.post("/api/community/attachments/", {"file": SimpleUploadedFile("b.txt", b"x" * 60, content_type="text/plain")},
                    format="multipart")
    assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
    assert over.json()["error"]["retry_after"] >= 1
    fits = api.post("/api/community/attachments/", {"file": SimpleUploadedFile("c.txt", b"x" * 40, content_type="text/plain")},
                    format="multipart")
    assert fits.status_code == 201  # the refused 60 bytes were not counted
    other = APIClient()
    other.force_authenticate(people["bob"])
    assert other.post("/api/community/attachments/", {"file": SimpleUploadedFile("d.txt", b"x" * 60, content_type="text/plain")},
                      format="multipart").status_code == 201
