"""A large code upload imported by a REAL Celery worker (subprocess) against the test database."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from coupons.models import CodeImport, Coupon
from coupons.selectors import pools_with_stats
from tests.coupons.conftest import make_pool

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(celery_worker_process):
    return celery_worker_process


def test_large_code_upload_is_imported_by_the_worker(admin_client, worker, settings):
    settings.WINBACK_IMPORT_BACKGROUND_BYTES = 1000
    pool = make_pool(name="Worker import")
    rows = "\n".join(f"SHOP-{i:06d}" for i in range(20_000))
    upload = SimpleUploadedFile("big.csv", f"code\n{rows}\n".encode())
    response = admin_client.post(reverse("admin:coupons_couponpool_import", args=[pool.pk]), {"file": upload})
    job = CodeImport.objects.get()
    assert response.url == reverse("admin:coupons_codeimport_change", args=[job.pk])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.3)
    log = worker.read_text(errors="replace")[-3000:] if worker.exists() else ""
    assert job.status == CodeImport.Status.DONE, log
    assert (job.rows, job.created_codes) == (20_000, 20_000)
    assert Coupon.objects.filter(pool=pool).count() == 20_000
    assert pools_with_stats().get(pk=pool.pk).available_codes == 20_000
    assert "20,000 codes imported" in admin_client.get(response.url).content.decode()
