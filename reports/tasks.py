from celery import shared_task

from reports.services import rollups_refresh


@shared_task(name="reports.tasks.rollups_refresh", ignore_result=True)
def rollups_refresh_task() -> int:
    return rollups_refresh()
