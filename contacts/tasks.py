from celery import shared_task

from contacts.services.imports import import_job_run, import_jobs_tidy


@shared_task(acks_late=True)
def import_job_run_task(job_id: int) -> None:
    """Run one uploaded import (claimed atomically, so a redelivery does nothing)."""
    import_job_run(job_id=job_id)


@shared_task
def import_jobs_tidy_task() -> dict[str, int]:
    """Fail jobs left pending; delete uploaded files of finished jobs past the retention period."""
    return import_jobs_tidy()
