"""A large admin upload imported by a REAL Celery worker (subprocess) against the test database."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact, ImportJob

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(celery_worker_process):
    return celery_worker_process


def test_large_upload_is_imported_by_the_worker(admin_client, worker, settings):
    settings.WINBACK_IMPORT_BACKGROUND_BYTES = 1000
    rows = "\n".join(f"C-{i},person{i}@example.com,yes" for i in range(12_000))
    upload = SimpleUploadedFile("big.csv", f"external_id,email,email_consent\n{rows}\n".encode())
    response = admin_client.post("/admin/contacts/contact/import/", {"file": upload, "format": "auto"})
    job = ImportJob.objects.get()
    assert response["Location"] == f"/admin/contacts/importjob/{job.pk}/change/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            break
        time.sleep(0.3)
    log = worker.read_text(errors="replace")[-3000:] if worker.exists() else ""
    assert job.status == ImportJob.Status.DONE, log
    assert (job.created_rows, job.total_rows, job.processed_rows) == (12_000, 12_000, 12_000)
    assert Contact.objects.filter(email_consent=True).count() == 12_000
    page = admin_client.get(f"/admin/contacts/importjob/{job.pk}/progress/").content.decode()
    assert "12,000 new" in page
