"""Celery tasks: take ids, call one service."""

from celery import shared_task

from segments.models import ScoringRun


@shared_task(name="segments.scoring_run")
def scoring_run_task(run_id: int) -> str:
    from segments.services import scoring_run_execute

    run = ScoringRun.objects.filter(pk=run_id).first()
    if run is None:
        return "missing"
    return scoring_run_execute(run=run).status


@shared_task(name="segments.scoring_nightly")
def scoring_nightly_task() -> str:
    from segments.services.scoring import scoring_nightly

    return scoring_nightly()


@shared_task(name="segments.segment_evaluate")
def segment_evaluate_task(segment_id: int) -> int | None:
    from segments.models import Segment
    from segments.services import segment_evaluate

    segment = Segment.objects.filter(pk=segment_id).first()
    return segment_evaluate(segment=segment) if segment else None


@shared_task(name="segments.purchase_stats_refresh")
def purchase_stats_refresh_task() -> int:
    from segments.purchase_stats import purchase_stats_refresh

    return purchase_stats_refresh()
