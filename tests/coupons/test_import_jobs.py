"""Large code imports from the admin run in a Celery task; progress and outcome show in the admin."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from coupons.models import CodeImport, Coupon
from coupons.tasks import code_import_run_task
from tests.coupons.conftest import make_pool

pytestmark = pytest.mark.django_db


def _upload(admin_client, pool, content: bytes):
    url = reverse("admin:coupons_couponpool_import", args=[pool.pk])
    return admin_client.post(url, {"file": SimpleUploadedFile("shop-codes.csv", content)})


def test_large_upload_is_imported_by_a_background_task(
    admin_client, settings, django_capture_on_commit_callbacks
):
    settings.WINBACK_IMPORT_BACKGROUND_BYTES = 20
    pool = make_pool(name="Big import")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _upload(admin_client, pool, b"code\nSHOP-0001\nSHOP-0002\nshop-0002\nSHOP-0003\n")
    job = CodeImport.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:coupons_codeimport_change", args=[job.pk])
    assert len(callbacks) == 1  # enqueued after commit
    assert job.status == CodeImport.Status.PENDING and not Coupon.objects.exists()
    page = admin_client.get(response.url).content.decode()
    assert "Pending" in page and 'http-equiv="refresh"' in page  # the page follows the job

    code_import_run_task(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows, job.created_codes, job.duplicate_codes) == (CodeImport.Status.DONE, 4, 3, 1)
    assert sorted(Coupon.objects.filter(pool=pool).values_list("code", flat=True)) == [
        "SHOP-0001",
        "SHOP-0002",
        "SHOP-0003",
    ]
    assert not job.file  # the uploaded file is removed once imported
    page = admin_client.get(response.url).content.decode()
    assert "Done" in page and "SHOP-0002" in page and 'http-equiv="refresh"' not in page
    pool_page = admin_client.get(reverse("admin:coupons_couponpool_change", args=[pool.pk])).content.decode()
    assert "shop-codes.csv" in pool_page and response.url in pool_page

    code_import_run_task(job.pk)  # a redelivered task does not import twice
    assert Coupon.objects.count() == 3


def test_background_import_with_row_errors_imports_nothing_and_lists_them(
    admin_client, settings, django_capture_on_commit_callbacks
):
    settings.WINBACK_IMPORT_BACKGROUND_BYTES = 10
    pool = make_pool()
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(admin_client, pool, b"code\nGOOD-1\n=cmd|calc\n<b>bold</b>\n")
    job = CodeImport.objects.get()
    code_import_run_task(job.pk)
    job.refresh_from_db()
    assert job.status == CodeImport.Status.FAILED and [e["row"] for e in job.errors] == [3, 4]
    page = admin_client.get(response.url).content.decode()
    assert "Failed" in page and "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert not Coupon.objects.exists()


def test_small_upload_is_still_imported_at_once(admin_client, settings):
    settings.WINBACK_IMPORT_BACKGROUND_BYTES = 1000
    pool = make_pool()
    response = _upload(admin_client, pool, b"code\nNOW-1\n")
    assert response.status_code == 302 and Coupon.objects.filter(code="NOW-1").exists()
    assert not CodeImport.objects.exists()


def test_code_import_changelist_query_count(admin_client, django_assert_num_queries):
    pool = make_pool()
    for i in range(3):
        CodeImport.objects.create(pool=pool, original_name=f"{i}.csv")
    # session, user, count (a small table), page of imports with their pool joined
    with django_assert_num_queries(4):
        response = admin_client.get(reverse("admin:coupons_codeimport_changelist"))
    assert response.status_code == 200 and len(response.context["cl"].result_list) == 3


def test_marketer_who_may_change_pools_follows_the_import_they_started(
    client, django_user_model, settings, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    settings.WINBACK_IMPORT_BACKGROUND_BYTES = 10
    pool = make_pool()
    user = django_user_model.objects.create_user("mara", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename="change_couponpool"))
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=False):
        response = _upload(client, pool, b"code\nMARA-1\nMARA-2\n")
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200
    assert client.get(reverse("admin:coupons_codeimport_changelist")).status_code == 200
    outsider = django_user_model.objects.create_user("otto", password="x", is_staff=True)
    client.force_login(outsider)
    assert client.get(response.url).status_code == 403


def test_lost_or_stalled_imports_are_enqueued_again(settings, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils.timezone import now

    from coupons.services import code_imports_resume

    settings.WINBACK_IMPORT_STALE_MINUTES = 60
    pool = make_pool()
    lost = CodeImport.objects.create(pool=pool, created_at=now() - timedelta(minutes=20))  # broker was down
    CodeImport.objects.create(pool=pool)  # just started: its task is on the way
    stalled = CodeImport.objects.create(
        pool=pool, status=CodeImport.Status.RUNNING, started_at=now() - timedelta(minutes=61)
    )
    CodeImport.objects.create(pool=pool, status=CodeImport.Status.RUNNING, started_at=now())
    CodeImport.objects.create(pool=pool, status=CodeImport.Status.DONE, created_at=now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert sorted(code_imports_resume()) == sorted([lost.pk, stalled.pk])
    assert len(callbacks) == 2


def test_import_resume_is_scheduled():
    from coupons import tasks
    from winback.schedule import CELERY_BEAT_SCHEDULE

    assert CELERY_BEAT_SCHEDULE["coupons-code-imports-resume"]["task"] == tasks.code_imports_resume_task.name


def test_files_kept_by_failed_imports_are_deleted_after_the_retention_period(settings):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from coupons.services.imports import code_import_files_purge

    settings.WINBACK_IMPORT_FILE_RETENTION_DAYS = 30
    pool = make_pool()
    at = timezone.now()
    jobs = []
    for days in (31, 29):
        job = CodeImport(pool=pool, status=CodeImport.Status.FAILED, finished_at=at - timedelta(days=days))
        job.file.save("codes.csv", ContentFile(b"code\nA-1\n"), save=False)
        job.save()
        jobs.append(job)
    old_name = jobs[0].file.name
    assert code_import_files_purge(at=at) == 1
    assert not jobs[0].file.storage.exists(old_name)
    assert CodeImport.objects.get(pk=jobs[0].pk).file.name == ""
    assert CodeImport.objects.get(pk=jobs[1].pk).file.name != ""
