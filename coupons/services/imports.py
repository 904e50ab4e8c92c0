"""Code imports too large for a web request: the upload is stored, a Celery task imports it.

The task calls the same coupons_import_csv() as the admin's inline import and the command line;
the CodeImport row carries progress (phase, rows read) and the outcome for the admin.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.services.uploads import upload_size_check
from coupons.models import CodeImport, CouponPool
from coupons.services.codes import ImportReport, coupons_import_csv

REPORT_LIMIT = 200  # errors / duplicates kept on the job for the admin


def code_import_runs_in_background(*, size: int) -> bool:
    return size > settings.WINBACK_IMPORT_BACKGROUND_BYTES


def code_import_start(*, pool: CouponPool, upload: UploadedFile, user=None) -> CodeImport:
    """Store the upload and enqueue its import once the current transaction commits.

    UploadTooLarge (contacts.services.uploads) past WINBACK_UPLOAD_MAX_BYTES.
    """
    upload_size_check(size=upload.size)
    job = CodeImport(
        pool=pool,
        original_name=(upload.name or "")[:255],
        created_by=user if user is not None and user.is_authenticated else None,
    )
    job.file.save(upload.name or "codes.csv", upload, save=False)
    job.save()
    from coupons.tasks import code_import_run_task

    transaction.on_commit(lambda: code_import_run_task.delay(job.pk))
    return job


RESUME_PENDING_AFTER = timedelta(minutes=10)


def code_imports_resume() -> list[int]:
    """Enqueue again imports whose task was lost (pending for a while: broker down at upload) or
    whose worker died (running past WINBACK_IMPORT_STALE_MINUTES). Returns their ids. Periodic."""
    at = timezone.now()
    stale = at - timedelta(minutes=settings.WINBACK_IMPORT_STALE_MINUTES)
    ids = list(
        CodeImport.objects.filter(
            Q(status=CodeImport.Status.PENDING, created_at__lt=at - RESUME_PENDING_AFTER)
            | Q(status=CodeImport.Status.RUNNING, started_at__lt=stale)
        ).values_list("pk", flat=True)
    )
    from coupons.tasks import code_import_run_task

    code_import_files_purge(at=at)
    for job_id in ids:
        transaction.on_commit(lambda job_id=job_id: code_import_run_task.delay(job_id))
    return ids


def code_import_run(*, job_id: int) -> ImportReport | None:
    """Run a pending import once (claimed with a conditional UPDATE); None if it ran or is running.

    A run whose worker died (its all-or-nothing insert rolled back) is taken over after
    WINBACK_IMPORT_STALE_MINUTES.
    """
    started = timezone.now()
    stale = started - timedelta(minutes=settings.WINBACK_IMPORT_STALE_MINUTES)
    claimed = (
        CodeImport.objects.filter(pk=job_id)
        .filter(
            Q(status=CodeImport.Status.PENDING) | Q(status=CodeImport.Status.RUNNING, started_at__lt=stale)
        )
        .update(status=CodeImport.Status.RUNNING, phase="checking", rows=0, started_at=started)
    )
    if not claimed:
        return None
    job = CodeImport.objects.select_related("pool").get(pk=job_id)
    jobs = CodeImport.objects.filter(pk=job_id)

    def progress(phase: str, rows: int) -> None:
        jobs.update(phase=phase, rows=rows)  # called outside the import's transaction

    try:
        with job.file.open("rb") as handle:
            report = coupons_import_csv(pool=job.pool, file=handle, progress=progress)
    except Exception as exc:
        jobs.update(
            status=CodeImport.Status.FAILED,
            phase="",
            errors=[{"row": None, "message": f"The import stopped: {exc}"}],
            finished_at=timezone.now(),
        )
        raise
    jobs.update(
        status=CodeImport.Status.DONE if report.ok else CodeImport.Status.FAILED,
        phase="",
        rows=report.rows,
        created_codes=report.created,
        duplicate_codes=len(report.duplicates),
        errors=report.errors[:REPORT_LIMIT],
        duplicates=report.duplicates[:REPORT_LIMIT],
        finished_at=timezone.now(),
    )
    job.file.delete(save=False)
    jobs.update(file="")
    return report


def code_import_files_purge(*, at=None) -> int:
    """Delete files still kept by finished imports (a run that stopped on an error) past the retention
    period (WINBACK_IMPORT_FILE_RETENTION_DAYS); a completed run deletes its file at once."""
    cutoff = (at or timezone.now()) - timedelta(days=settings.WINBACK_IMPORT_FILE_RETENTION_DAYS)
    jobs = CodeImport.objects.filter(
        status__in=[CodeImport.Status.DONE, CodeImport.Status.FAILED], finished_at__lt=cutoff
    ).exclude(file="")
    count = 0
    for job in jobs.only("pk", "file").iterator():
        if job.file.storage.exists(job.file.name):
            job.file.storage.delete(job.file.name)
        CodeImport.objects.filter(pk=job.pk).update(file="")
        count += 1
    return count
