"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from journeys.models import Journey
from journeys.services import journey_enter, journeys_tick


@shared_task(name="journeys.tasks.journey_enter", ignore_result=True)
def journey_enter_task(journey_id: int) -> int:
    journey = Journey.objects.filter(pk=journey_id).first()
    if journey is None:
        return 0
    return journey_enter(journey=journey)


@shared_task(name="journeys.tasks.journeys_tick", ignore_result=True)
def journeys_tick_task(helpers: bool = True) -> int:
    """Advance due contacts. With JOURNEYS_TICK_WORKERS = N above 1, the tick first asks N - 1 more
    workers to tick with it (each takes other batches; one with nothing due stops after one query)."""
    from journeys import schedule

    if helpers:
        for _ in range(schedule.TICK_WORKERS - 1):
            journeys_tick_task.apply_async(
                kwargs={"helpers": False}, expires=max(schedule.TICK_SECONDS - 1, 1)
            )
    return journeys_tick().steps_run


@shared_task(name="journeys.tasks.conversions_record", ignore_result=True)
def conversions_record_task(order_ids: list[int]) -> int:
    from journeys.services import conversions_record

    return conversions_record(order_ids=order_ids)


@shared_task(name="journeys.tasks.journey_stats_refresh", ignore_result=True)
def journey_stats_refresh_task() -> None:
    from journeys.services.stats import journey_stats_refresh

    journey_stats_refresh()
