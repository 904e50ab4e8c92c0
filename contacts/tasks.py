from celery import shared_task

from contacts.services.imports import import_job_run


@shared_task(acks_late=True)
def import_job_run_task(job_id: int) -> None:
    """Run one uploaded import (claimed atomically, so a redelivery does nothing)."""
    import_job_run(job_id=job_id)
