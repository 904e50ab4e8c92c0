"""Import jobs: an uploaded file, run now (small) or by a Celery task (large), with progress."""

from __future__ import annotations

import threading
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.importing import ImportResult, csv_import
from contacts.models import ImportJob


def import_job_create(*, kind: str, upload: UploadedFile, user=None, format_name: str = "auto") -> ImportJob:
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
    """A trial run (written and rolled back): counts of new/updated rows and every row error."""
    with job.file.open("rb") as handle:
        data = handle.read()
    return csv_import(kind=job.kind, data=data, format_name=job.format, dry_run=True)


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


def import_job_run(*, job_id: int) -> ImportResult | None:
    """Run a pending job once (claimed atomically); returns None if another run has it or it ran."""
    now = timezone.now()
    # A run whose worker died (its writes were rolled back) may be taken over after a while.
    stale = now - timedelta(minutes=getattr(settings, "WINBACK_IMPORT_STALE_MINUTES", 120))
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
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED,
            phase="",
            errors=[{"row": 0, "column": "", "message": f"The import stopped: {exc}"}],
            finished_at=timezone.now(),
        )
        raise
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.DONE if result.ok else ImportJob.Status.FAILED,
        phase="",
        format=result.format or job.format,
        total_rows=result.total_rows,
        processed_rows=result.total_rows if result.ok else 0,
        created_rows=result.created,
        updated_rows=result.updated,
        errors=result.errors,
        finished_at=timezone.now(),
    )
    return result
