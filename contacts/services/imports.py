"""Import jobs: an uploaded file, run now (small) or by a Celery task (large), with progress."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.importing import ImportResult, csv_import
from contacts.models import ImportJob
from contacts.services.results import RowError
from contacts.services.uploads import upload_size_check

logger = logging.getLogger(__name__)
# A job still pending this long was never confirmed (preview) or never picked up by a worker.
PENDING_EXPIRES_AFTER = timedelta(days=1)


def import_job_create(*, kind: str, upload: UploadedFile, user=None, format_name: str = "auto") -> ImportJob:
    """Store the upload as a pending job. UploadTooLarge past WINBACK_UPLOAD_MAX_BYTES."""
    upload_size_check(size=upload.size)
    job = ImportJob(
        kind=kind,
        format=format_name,
        original_name=upload.name[:255],
        created_by=user if user and user.is_authenticated else None,
    )
    job.file.save(upload.name, upload, save=False)
    job.save()
    return job


def import_job_runs_in_background(*, size: int) -> bool:
    return size > settings.WINBACK_IMPORT_BACKGROUND_BYTES


def import_job_enqueue(*, job: ImportJob) -> None:
    from contacts.tasks import import_job_run_task

    transaction.on_commit(lambda: import_job_run_task.delay(job.pk))


def import_job_preview(*, job: ImportJob) -> ImportResult:
    """A trial run (written and rolled back): counts of new/updated rows and every row error.

    A file with errors fails the job (it says why); it never stays pending, and nothing raises.
    """
    try:
        with job.file.open("rb") as handle:
            data = handle.read()
        result = csv_import(kind=job.kind, data=data, format_name=job.format, dry_run=True)
    except Exception as exc:
        result = _stopped(job.kind, exc)
    if not result.ok:
        _fail(job.pk, result)
    return result


def _stopped(kind: str, exc: Exception) -> ImportResult:
    """An unexpected error (a bug, the database gone) as a failed result; logged with its traceback."""
    logger.exception("Import of %s stopped", kind)
    result = ImportResult(kind=kind)
    result.error_add([RowError(0, "", f"The import stopped: {type(exc).__name__}: {exc}"[:500])])
    return result


def _fail(job_id: int, result: ImportResult) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED,
        phase="",
        errors=result.errors,
        total_rows=result.total_rows,
        processed_rows=0,
        created_rows=0,
        updated_rows=0,
        finished_at=timezone.now(),
        **({"format": result.format} if result.format else {}),
    )


def _progress_save(job_id: int, **fields) -> None:
    """Progress must be visible while the import's own transaction is still open.

    Outside a transaction: a plain UPDATE. Inside (the writing phase) on PostgreSQL: from a
    short-lived thread with its own connection. SQLite allows one writer, so there the
    writing phase reports when it is done.
    """

    def update() -> None:
        try:
            ImportJob.objects.filter(pk=job_id).update(**fields)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    if not connection.in_atomic_block:
        update()
    elif connection.vendor == "postgresql":
        worker = threading.Thread(target=update, daemon=True)
        worker.start()
        worker.join(timeout=10)


def _stale_minutes() -> int:
    return getattr(settings, "WINBACK_IMPORT_STALE_MINUTES", 120)


def import_job_run(*, job_id: int) -> ImportResult | None:
    """Run a pending job once (claimed atomically); returns None if another run has it or it ran."""
    now = timezone.now()
    # A run whose worker died (its writes were rolled back) may be taken over after a while.
    stale = now - timedelta(minutes=_stale_minutes())
    claimed = (
        ImportJob.objects.filter(pk=job_id)
        .filter(Q(status=ImportJob.Status.PENDING) | Q(status=ImportJob.Status.RUNNING, started_at__lt=stale))
        .update(status=ImportJob.Status.RUNNING, started_at=now, phase="validating")
    )
    if not claimed:
        return None
    job = ImportJob.objects.get(pk=job_id)

    def progress(phase: str, done: int, total: int) -> None:
        _progress_save(job_id, phase=phase, total_rows=total, processed_rows=done)

    try:
        with job.file.open("rb") as handle:
            data = handle.read()
        result = csv_import(kind=job.kind, data=data, format_name=job.format, progress=progress)
    except Exception as exc:
        result = _stopped(job.kind, exc)
        _fail(job_id, result)
        return result
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.DONE if result.ok else ImportJob.Status.FAILED,
        phase="",
        format=result.format or job.format,
        total_rows=result.total_rows,
        processed_rows=result.total_rows if result.ok else 0,
        created_rows=result.created,
        updated_rows=result.updated,
        errors=result.errors,
        skipped=result.skipped,
        finished_at=timezone.now(),
    )
    return result


def import_jobs_tidy(*, at=None) -> dict[str, int]:
    """Periodic: fail jobs left pending or left running by a dead worker; delete the files of jobs
    finished past the retention period.

    A job pending for PENDING_EXPIRES_AFTER was never confirmed (preview) or no worker ran it: it is
    failed with that reason, so no job stays pending. Files of done/failed jobs are deleted
    WINBACK_IMPORT_FILE_RETENTION_DAYS after the job finished (the job row and its counts stay).
    """
    at = at or timezone.now()
    expired = ImportJob.objects.filter(
        status=ImportJob.Status.PENDING, created_at__lt=at - PENDING_EXPIRES_AFTER
    ).update(
        status=ImportJob.Status.FAILED,
        finished_at=at,
        errors=[
            {
                "row": 0,
                "column": "",
                "message": "Not imported: the preview was never confirmed, or no worker ran the job within "
                "a day. Upload the file again.",
            }
        ],
    )
    # A worker killed mid-run leaves the job "running"; its task's redelivery comes before the run is
    # stale, finds it running and does nothing. Past the stale time the run is over: fail it, say why.
    abandoned = ImportJob.objects.filter(
        status=ImportJob.Status.RUNNING, started_at__lt=at - timedelta(minutes=_stale_minutes())
    ).update(
        status=ImportJob.Status.FAILED,
        phase="",
        finished_at=at,
        errors=[
            {
                "row": 0,
                "column": "",
                "message": "Not imported: the worker stopped while importing (nothing of this file was "
                "saved). Upload the file again.",
            }
        ],
    )
    cutoff = at - timedelta(days=settings.WINBACK_IMPORT_FILE_RETENTION_DAYS)
    finished = ImportJob.objects.filter(
        status__in=[ImportJob.Status.DONE, ImportJob.Status.FAILED], finished_at__lt=cutoff
    ).exclude(file="")
    return {
        "expired": expired,
        "abandoned": abandoned,
        "files_deleted": import_job_files_delete(jobs=finished),
    }


def import_job_files_delete(*, jobs) -> int:
    """Delete the uploaded files of `jobs` (a queryset) from storage and blank the field."""
    deleted = 0
    for job in jobs.only("pk", "file").iterator():
        name = job.file.name
        if name and job.file.storage.exists(name):
            job.file.storage.delete(name)
        ImportJob.objects.filter(pk=job.pk).update(file="")
        deleted += 1
    return deleted
