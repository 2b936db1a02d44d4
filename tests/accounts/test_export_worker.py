"""A real Celery worker builds a requested export, stores the zip and emails the link.

Needs Redis (the broker) and a database the worker process can share (skipped without REDIS_URL, as
tests/agentwise/test_celery_worker.py)."""

import io
import zipfile

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from accounts import services
from accounts.credentials import SESSION, Credential
from accounts.models import DataExport, DataExportStatus
from tests.factories import UserFactory
from tests.smtp import SmtpServer
from tests.worker import celery_worker, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: a real broker (CI sets it)"),
]



def test_a_worker_builds_the_export_and_emails_the_link(tmp_path, reference_data):
    log_path = tmp_path / "worker.log"
    with SmtpServer() as smtp, celery_worker(
        log_path, EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}", MEDIA_ROOT=str(settings.MEDIA_ROOT),
        SITE_URL="https://agentwise.example",
    ):
        user = UserFactory(email="exporter@example.com")
        export = services.data_export_request(user=user, credential=Credential(kind=SESSION, id="s"))
        assert wait_for(lambda: DataExport.objects.get(pk=export.pk).status == DataExportStatus.READY, 60), \
            log_path.read_text()[-3000:]
        messages = smtp.handler.wait(1, timeout=60)
        assert messages, log_path.read_text()[-3000:]
    export.refresh_from_db()
    assert messages[0]["To"] == "exporter@example.com"
    body = messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "https://agentwise.example/account/export/download/" in body
    with default_storage.open(export.file_path, "rb") as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        assert "README.txt" in archive.namelist() and "agent_runs.json" in archive.namelist()
