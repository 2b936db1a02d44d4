"""The app served by a real daphne process answers uploads the way Django does, not Twisted."""

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from tests.factories import UserFactory
from tests.live import DaphneProcess

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path):
    with DaphneProcess(log_dir=tmp_path) as process:
        yield process


def _post(server, path, body: bytes, content_type: str, key: str):
    request = urllib.request.Request(
        f"{server.url}{path}", data=body, method="POST",
        headers={"Content-Type": content_type, "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize(
    "body",
    [
        b"--B--\r\n",  # a multipart with no parts: Twisted's parser used to answer a bare 400 itself
        b'--B\r\nContent-Disposition: form-data; name="f\xc3\xafle"; filename="a.txt"\r\n\r\nhi\r\n--B--\r\n',
    ],
    ids=["empty", "non-ascii-field-name"],
)
def test_a_multipart_body_twisted_dislikes_reaches_django_and_gets_a_json_error(server, api_key_for, body):
    key = api_key_for(UserFactory())
    status, headers, content = _post(server, "/api/community/attachments/", body, "multipart/form-data; boundary=B", key)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(content)["error"]["fields"]["file"] == ["No file was submitted."]


def test_an_upload_through_daphne_is_stored(server, api_key_for):
    key = api_key_for(UserFactory())
    body = b'--B\r\nContent-Disposition: form-data; name="file"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B--\r\n'
    status, _, content = _post(server, "/api/community/attachments/", body, "multipart/form-data; boundary=B", key)
    assert status == 201, content
    assert json.loads(content)["name"] == "notes.txt"


def test_daphne_reads_the_suites_clock(server, api_key_for):
    """Started through tests/clock.py, daphne keeps the time this process keeps, even under AGENTWISE_TEST_CLOCK."""
    user = UserFactory()
    request = urllib.request.Request(f"{server.url}/api/me/", headers={"Authorization": f"Bearer {api_key_for(user)}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    used_at = ApiKey.objects.get(user=user).last_used_at  # written by daphne on first use
    assert abs(used_at - timezone.now()) < timedelta(minutes=1)
