"""The scoring run: RFM, lifecycle and CLV for every contact, set-based, as of one instant.

1. The purchases placed at or before `as_of` -> per-buyer numpy arrays (scoring_data: one binary COPY of
   the purchase rows summed by numpy on PostgreSQL, one grouped ORM query elsewhere).
2. Vectorised scores, CLV, the model check and the score distribution (scoring_compute).
3. Previous segment/stage/cluster fetched in bulk, compared vectorised -> ScoreChange rows for changes only.
4. Score rows staged and written only where they changed (scoring_write); progress kept on the ScoringRun.

A run as of an instant before the latest finished run is a *look-back*: it sees only the orders and the
score history up to its `as_of`, reports its numbers on its page, and leaves today's scores and history
alone (scores and history only move forward in time).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from segments.models import ContactScore, ScoreChange, ScoringRun
from segments.services import scoring_data as data
from segments.services.scoring_compute import (
    clv_settings_current,
    distribution_compute,
    model_check_compute,
    scores_compute,
)
from segments.services.scoring_write import changes_count, changes_write, scores_write

logger = logging.getLogger(__name__)

__all__ = ["clv_settings_current", "scores_compute", "scoring_run_execute", "scoring_run_request"]


def scoring_run_request(*, trigger: str, countdown: int = 0) -> ScoringRun | None:
    """Queue a run unless one is already waiting (debounce: the waiting run will see the new data).

    The Celery task is enqueued after the transaction commits.
    """
    from segments.tasks import scoring_run_task

    scoring_runs_expire()
    with transaction.atomic():
        if ScoringRun.objects.filter(status=ScoringRun.Status.QUEUED).exists():
            return None
        run = ScoringRun.objects.create(trigger=trigger)
        transaction.on_commit(lambda: scoring_run_task.apply_async(args=[run.pk], countdown=countdown))
    return run


QUEUED_TIMEOUT = dt.timedelta(hours=2)
RUNNING_TIMEOUT = dt.timedelta(hours=6)


def scoring_runs_expire() -> int:
    """Fail runs whose task was lost (queued too long) or whose worker died (running too long), so they
    stop blocking new runs."""
    now = timezone.now()
    lost = ScoringRun.objects.filter(
        status=ScoringRun.Status.QUEUED, created_at__lt=now - QUEUED_TIMEOUT
    ).update(
        status=ScoringRun.Status.FAILED,
        finished_at=now,
        error="The queued task never started (lost message?).",
    )
    died = ScoringRun.objects.filter(
        status=ScoringRun.Status.RUNNING, started_at__lt=now - RUNNING_TIMEOUT
    ).update(
        status=ScoringRun.Status.FAILED, finished_at=now, error="Stopped without finishing (worker lost?)."
    )
    return lost + died


def scoring_orders_upserted(*, order_ids: list[int]) -> ScoringRun | None:
    """After an import: a large batch of orders queues a (debounced) run; small batches wait for the night."""
    threshold = getattr(settings, "WINBACK_SCORING_IMPORT_THRESHOLD", 1000)
    if len(order_ids) < threshold:
        return None
    return scoring_run_request(trigger=ScoringRun.Trigger.IMPORT, countdown=60)


class _Phases:
    """Seconds spent per phase of a run, kept on the run for operators (and the benchmark)."""

    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self._name = ""
        self._started = time.monotonic()
        self._report = report

    def start(self, name: str) -> None:
        now = time.monotonic()
        if self._name:
            self.seconds[self._name] = round(self.seconds.get(self._name, 0) + now - self._started, 3)
            if self._report:
                self._report(f"{self._name}: {self.seconds[self._name]:.1f} s")
        self._name, self._started = name, now


Progress = Callable[[int, str], None]


def _progress(run: ScoringRun, percent: int, note: str, report: Progress | None) -> None:
    run.progress, run.progress_note = percent, note
    ScoringRun.objects.filter(pk=run.pk).update(progress=percent, progress_note=note)
    if report:
        report(percent, note)


def _is_lookback(as_of: dt.datetime) -> bool:
    return ScoringRun.objects.filter(status=ScoringRun.Status.DONE, lookback=False, as_of__gt=as_of).exists()


def scoring_run_execute(
    *,
    run: ScoringRun,
    as_of: dt.datetime | None = None,
    progress: Progress | None = None,
    phase_report: Callable[[str], None] | None = None,
) -> ScoringRun:
    """Score every contact as of `as_of` (default: now). Claims the run (queued -> running) so a run
    executes at most once. `progress(percent, note)` and `phase_report(line)` let a command show both."""
    claimed = ScoringRun.objects.filter(pk=run.pk, status=ScoringRun.Status.QUEUED).update(
        status=ScoringRun.Status.RUNNING, started_at=timezone.now(), progress=0
    )
    if not claimed:
        run.refresh_from_db()
        return run
    started = time.monotonic()
    as_of = as_of or timezone.now()
    run.refresh_from_db()
    run.as_of = as_of
    run.lookback = _is_lookback(as_of)
    as_of_day = data.shop_day(as_of)
    phases = _Phases(phase_report)
    try:
        phases.start("read purchases")
        _progress(run, 5, "Reading purchases", progress)
        purchases = data.purchases_read(as_of=as_of)
        contact_ids = data.contact_ids_read()
        purchases = purchases.keep(np.isin(purchases.buyer_ids, contact_ids))

        phases.start("compute scores and CLV")
        _progress(run, 15, "Computing scores and fitting CLV", progress)
        scores, fit, why_no_clv = scores_compute(
            contact_ids=contact_ids, purchases=purchases, as_of_day=as_of_day
        )
        run.distribution = distribution_compute(scores)

        phases.start("model check")
        _progress(run, 25, "Checking the model on the last 26 weeks", progress)
        run.model_check, run.model_check_missing_reason = model_check_compute(
            purchases=purchases, as_of_day=as_of_day
        )

        phases.start("read previous values")
        _progress(run, 30, "Comparing with the previous scores", progress)
        if run.lookback:
            previous = data.history_values_read(contact_ids, as_of=as_of)
        else:
            previous = data.previous_values_read(contact_ids)
        if run.lookback:
            changes = changes_count(previous, scores)
        else:
            phases.start("write changes")
            _progress(run, 35, "Recording changes", progress)
            changes = changes_write(run, contact_ids, previous, scores, as_of)
            del previous

            phases.start("write scores")
            _progress(run, 40, "Saving scores", progress)

            def saved(done: int, total: int) -> None:
                _progress(run, 40 + int(50 * done / max(total, 1)), f"Staged {done:,} of {total:,}", progress)

            run.scores_written = scores_write(run, contact_ids, scores, as_of, progress=saved)

            if connection.vendor == "postgresql" and run.scores_written:
                # Score rows were just rewritten: fresh planner statistics keep segment queries on good plans.
                phases.start("analyze")
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {ContactScore._meta.db_table}, {ScoreChange._meta.db_table}")

        run.status = ScoringRun.Status.DONE
        run.contacts_scored = len(contact_ids)
        run.buyers = len(purchases.buyer_ids)
        run.changes_recorded = changes
        run.clv_fit = fit
        run.clv_missing_reason = why_no_clv
        run.progress, run.progress_note = 100, "Done"
    except Exception as exc:
        logger.exception("Scoring run %s failed", run.pk)
        run.status = ScoringRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
    phases.start("")
    run.phase_seconds = phases.seconds
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.save()
    if progress:
        progress(100, run.get_status_display())
    logger.info("Scoring run %s %s in %.1f s: %s", run.pk, run.status, run.duration_ms / 1000, phases.seconds)
    return run


def scoring_nightly() -> str:
    """The nightly job: a scoring run right now (unless one is running), then every segment re-counted."""
    from segments.services.segments import segments_evaluate_all

    scoring_runs_expire()
    if ScoringRun.objects.filter(status=ScoringRun.Status.RUNNING).exists():
        return "skipped: a run is in progress"
    run = ScoringRun.objects.filter(status=ScoringRun.Status.QUEUED).first() or ScoringRun.objects.create(
        trigger=ScoringRun.Trigger.SCHEDULE
    )
    run = scoring_run_execute(run=run)
    segments_evaluate_all()
    return run.status
