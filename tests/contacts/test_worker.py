"""A large admin upload imported by a REAL Celery worker (subprocess) against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from contacts.models import Contact, ImportJob

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    host = f"{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}"
    return f"postgres://{config.get('USER') or 'postgres'}@{host}/{config['NAME']}"


@pytest.fixture
def worker():
    from winback.celery import app

    app.control.purge()
    log_path = Path(settings.VAR_DIR) / "contacts-worker.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "winback.settings",
        "DATABASE_URL": database_url(),
        "SECURE_SSL_REDIRECT": "false",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "winback", "worker", "--concurrency", "1",
             "--loglevel", "INFO"],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    yield log_path
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGQUIT)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


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
