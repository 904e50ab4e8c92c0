from celery import shared_task

from reports.services import journey_snapshots_refresh, rollups_refresh


@shared_task(name="reports.tasks.rollups_refresh", ignore_result=True)
def rollups_refresh_task() -> int:
    written = rollups_refresh()
    journey_snapshots_refresh()
    return written
