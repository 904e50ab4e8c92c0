"""The tick: take due enrollments in batches and advance them step by step.

How "exactly once" holds with retried tasks, killed workers and several workers at once:
1. Take a batch. PostgreSQL: in the batch's own transaction, SELECT ... FOR UPDATE SKIP LOCKED on
   due rows (engine_batch.due_rows_lock): the row locks are the claim, another worker skips them, and
   a killed worker's locks go with its connection. SQLite (one writer at a time): a lease written to
   the rows first (engine_claims.enrollments_claim), then the batch loaded by its token.
2. Advance. In ONE transaction per batch: the batch is loaded as tuples (engine_batch), grouped by
   current step; each step's batch handler runs once per group, and the loop repeats while contacts
   are due now (wait -> condition -> coupon -> message in one pass, up to a wait or the end). Then
   every StepRun goes in with one INSERT (UNIQUE (enrollment, step, visit): a second worker that
   advanced the same contacts makes it fail and the whole batch rolls back) and the enrollments are
   written back with one UPDATE (row count checked).
   Messages are queued in the same transaction (messaging's idempotency key) and delivered after
   commit; coupons are assigned idempotently (one code per contact per pool).
No query depends on the batch size: handlers work per group, writes are one statement each.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from journeys.models import Enrollment, Step
from journeys.services.engine_batch import Batch, BatchEnrollment, GraphCache, claimed_rows, due_rows_lock
from journeys.services.engine_claims import (
    cap_locks_take,
    claims_release,
    conflicts_fail,
    due_enrollments,
    enrollments_claim,
)
from journeys.services.engine_writes import enrollments_write, runs_insert
from journeys.steps import BatchContext, StepResult, registry

logger = logging.getLogger(__name__)

__all__ = [
    "ClaimLost",
    "TickReport",
    "batch_advance",
    "batch_take_and_advance",
    "due_enrollments",
    "enrollments_claim",
    "journeys_tick",
]

MAX_ROUNDS = 50
ERROR_RETRY = timedelta(minutes=5)
MAX_ERRORS = 5
BATCH_SIZE = 1000


class ClaimLost(Exception):
    """Another worker took over (our lease expired): the batch is rolled back."""


@dataclass
class TickReport:
    batches: int = 0
    claimed: int = 0
    steps_run: int = 0
    completed: int = 0
    messages: int = 0
    conflicts: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    journey_ids: set[int] = field(default_factory=set)  # journeys whose contacts moved (for the rollup)


def error_detail(exc: Exception) -> str:
    """How a failed step or batch is described on the enrollment (and counted toward MAX_ERRORS)."""
    return f"error: {exc.__class__.__name__}: {exc}"[:200]


def _run_group(step: Step, group: list[BatchEnrollment], ctx: BatchContext) -> dict[int, StepResult]:
    kind = registry.get(step.kind)
    if kind is None:
        return {e.id: StepResult(None, exit=("failed", f"unknown step kind {step.kind}")) for e in group}
    try:
        with transaction.atomic():  # a savepoint: a failing handler does not spoil the batch
            return kind.run(step=step, enrollments=group, ctx=ctx)
    except Exception as exc:
        logger.exception("Journey step %s (%s) failed for %d contacts", step.id, step.kind, len(group))
        results = {}
        for e in group:
            errors = int((e.data or {}).get("_errors", 0)) + 1
            e.data = {**(e.data or {}), "_errors": errors}
            detail = error_detail(exc)
            if errors >= MAX_ERRORS:
                results[e.id] = StepResult(None, detail=detail, exit=("failed", detail[:64]))
            else:
                results[e.id] = StepResult(None, due_at=ctx.now + ERROR_RETRY, detail=f"retry after {detail}")
        return results


def batch_advance(
    *, token: str, now: datetime, graphs: GraphCache | None = None
) -> tuple[TickReport, list[int]]:
    """Advance the enrollments claimed by `token` (enrollments_claim). Returns the report and the ids of
    the messages to deliver."""
    with transaction.atomic():
        return _advance(claimed_rows(token=token), token=token, now=now, graphs=graphs or GraphCache())


def batch_take_and_advance(
    *, now: datetime, limit: int, graphs: GraphCache | None = None
) -> tuple[TickReport, list[int]]:
    """PostgreSQL: lock up to `limit` due enrollments and advance them, in one transaction (no lease
    written, no second read). If the step history says some of them already ran their step (a
    conflict: IntegrityError, everything rolled back), those fail visibly and the error is re-raised."""
    graphs = graphs or GraphCache()
    ids: list[int] = []
    try:
        with transaction.atomic():
            rows = due_rows_lock(now=now, limit=limit)
            ids = [row[0] for row in rows]
            return _advance(rows, token="", now=now, graphs=graphs)
    except IntegrityError:
        conflicts_fail(now=now, ids=ids)
        raise
    except Exception:
        if not ids:
            raise
        # Nothing of the batch was written and no lease holds it: taken again first, it would stall every
        # later tick. Each enrollment alone instead, so one bad contact cannot hold back the others.
        logger.exception("A batch of %d enrollments failed; advancing them one by one", len(ids))
        return _advance_one_by_one(ids, now=now, graphs=graphs)


def _advance_one_by_one(ids: list[int], *, now: datetime, graphs: GraphCache) -> tuple[TickReport, list[int]]:
    """PostgreSQL, after a failed batch: each enrollment in its own transaction. One that fails alone is
    retried after ERROR_RETRY and fails for good after MAX_ERRORS tries (like a step's own error)."""
    report, message_ids = TickReport(claimed=len(ids)), []
    for pk in ids:
        try:
            with transaction.atomic():
                one, messages = _advance(
                    due_rows_lock(now=now, limit=1, ids=[pk]), token="", now=now, graphs=graphs
                )
        except IntegrityError as exc:
            conflicts_fail(now=now, ids=[pk])
            report.errors.append(str(exc)[:200])
            continue
        except Exception as exc:
            logger.exception("Enrollment %s failed on its own", pk)
            report.errors.append(enrollment_error_record(pk=pk, now=now, exc=exc))
            continue
        report.steps_run += one.steps_run
        report.completed += one.completed
        report.messages += one.messages
        report.journey_ids |= one.journey_ids
        message_ids += messages
    return report, message_ids


def enrollment_error_record(*, pk: int, now: datetime, exc: Exception) -> str:
    """Count an error on the enrollment: retried after ERROR_RETRY, failed after MAX_ERRORS. Returns the
    detail written. An enrollment another worker holds or moved on is left alone."""
    detail = error_detail(exc)
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, state__in=Enrollment.IN_FLIGHT)
            .first()
        )
        if enrollment is None:
            return detail
        errors = int((enrollment.data or {}).get("_errors", 0)) + 1
        enrollment.data = {**(enrollment.data or {}), "_errors": errors}
        if errors >= MAX_ERRORS:
            enrollment.state = Enrollment.State.FAILED
            enrollment.exit_reason = detail[:64]
            enrollment.exited_at = now
            enrollment.due_at = None
        else:
            enrollment.due_at = now + ERROR_RETRY
        enrollment.save(update_fields=["data", "state", "exit_reason", "exited_at", "due_at"])
    return detail


def _advance(
    rows: list[tuple], *, token: str, now: datetime, graphs: GraphCache
) -> tuple[TickReport, list[int]]:
    """Run the batch's steps (inside the caller's transaction, the rows locked or claimed)."""
    report = TickReport()
    if not rows:
        return report, []
    ctx = BatchContext(now=now)
    batch = Batch(rows)
    enrollments = batch.enrollments
    report.claimed = len(enrollments)
    cap_locks_take(
        {
            e.contact_id
            for e in enrollments
            if e.journey.frequency_cap_messages and e.journey.frequency_cap_days
        }
    )
    graphs.load({e.version_id for e in enrollments})
    runs: list[tuple] = []
    pending = enrollments
    for _round in range(MAX_ROUNDS):
        groups: dict[int | None, list[BatchEnrollment]] = defaultdict(list)
        for e in pending:
            groups[e.step_id].append(e)
        pending = []
        for step_id, group in groups.items():
            step = graphs.step(group[0].version_id, step_id)
            if step is None:
                for e in group:
                    _finish(e, now, "failed", "step missing from version")
                continue
            results = _run_group(step, group, ctx)
            for e in group:
                result = results.get(e.id) or StepResult(None, exit=("failed", "no result from step"))
                if _apply(e, step, result, now, graphs, runs):
                    pending.append(e)
        if not pending:
            break
    else:
        for e in pending:  # a loop in the graph without a wait: park it for the next tick
            e.state, e.due_at = Enrollment.State.ACTIVE, now + timedelta(minutes=1)
    runs_insert(runs, now=now)
    written = enrollments_write(enrollments, token=token)
    if written != len(enrollments):
        raise ClaimLost(f"wrote {written} of {len(enrollments)} enrollments: claim lost")
    if ctx.delete_contact_ids:
        from contacts.services.forget import contacts_delete

        contacts_delete(contact_ids=ctx.delete_contact_ids, source="journey")
    report.steps_run = len(runs)
    report.journey_ids = {e.journey_id for e in enrollments}
    report.completed = sum(1 for e in enrollments if e.state not in Enrollment.IN_FLIGHT)
    report.messages = len(ctx.deliver_message_ids)
    return report, ctx.deliver_message_ids


def _finish(e: BatchEnrollment, now: datetime, state: str, reason: str) -> None:
    e.state, e.exit_reason, e.exited_at, e.due_at, e.wait_reason = state, reason[:64], now, None, ""


def _apply(
    e: BatchEnrollment, step: Step, result: StepResult, now: datetime, graphs: GraphCache, runs: list[tuple]
) -> bool:
    """Apply one step result to the enrollment in memory. True if it is due again right now."""
    if result.branch is None:
        if result.exit:
            _finish(e, now, *result.exit)
            return False
        e.state = Enrollment.State.WAITING
        e.due_at = result.due_at or now
        e.wait_reason = result.detail[:200]
        return False
    runs.append(
        (
            e.id,
            step.id,
            e.visit,
            e.contact_id,
            e.journey_id,
            step.kind,
            result.branch,
            result.outcome[:32],
            result.detail[:255],
        )
    )
    if e.data and "_errors" in e.data:
        e.data = {k: v for k, v in e.data.items() if k != "_errors"}
    if result.exit:
        _finish(e, now, *result.exit)
        return False
    target = graphs.next_step(e.version_id, step.id, result.branch)
    if target is None:
        _finish(e, now, Enrollment.State.COMPLETED, "completed")
        return False
    e.step_id = target
    e.visit += 1
    e.step_entered_at = now
    e.wait_reason = ""
    e.due_at = result.due_at or now
    e.state = Enrollment.State.ACTIVE if e.due_at <= now else Enrollment.State.WAITING
    return e.due_at <= now


def _deliver(message_ids: list[int], mode: str) -> None:
    """ "later": messaging's delivery tasks (enqueued on commit); "now": in this process; "": not at all."""
    if not message_ids or not mode:
        return
    from messaging.services import messages_deliver, messages_deliver_later

    try:
        if mode == "now":
            messages_deliver(message_ids=message_ids)
        else:
            messages_deliver_later(message_ids=message_ids)
    except Exception:  # the messages stay queued; messaging's redeliver_stale hands them over again
        logger.exception("Delivering %d journey messages failed", len(message_ids))


def journeys_tick(
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
    max_seconds: float | None = 50.0,
    deliver: str = "later",
) -> TickReport:
    """Advance every due enrollment (up to the limits). `now` fixed for tests, else the clock per batch.
    Any number of workers may run this at once (see the module docstring)."""
    report = TickReport()
    started = time.monotonic()
    graphs = GraphCache()
    locking = connection.vendor == "postgresql"
    token = uuid.uuid4().hex
    while max_batches is None or report.batches < max_batches:
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
        at = now or timezone.now()
        try:
            if locking:
                batch, message_ids = batch_take_and_advance(now=at, limit=batch_size, graphs=graphs)
                if not batch.claimed:
                    break
            else:
                if not enrollments_claim(now=at, token=token, limit=batch_size):
                    break
                batch, message_ids = batch_advance(token=token, now=at, graphs=graphs)
        except (IntegrityError, ClaimLost) as exc:
            # Someone else advanced these contacts: nothing of this batch was written.
            report.conflicts += 1
            report.errors.append(str(exc)[:200])
            if not locking:
                if isinstance(exc, IntegrityError):
                    conflicts_fail(now=at, token=token)
                claims_release(token=token)
                token = uuid.uuid4().hex
            if report.conflicts >= 10:
                break
            continue
        report.batches += 1
        report.claimed += batch.claimed
        report.steps_run += batch.steps_run
        report.completed += batch.completed
        report.messages += batch.messages
        report.journey_ids |= batch.journey_ids
        _deliver(message_ids, deliver)
        if batch.claimed < batch_size:
            break  # nothing more was due (or the rest is another worker's): no empty look to finish on
    if report.journey_ids:
        from journeys.services.stats import journey_stats_refresh

        journey_stats_refresh(journey_ids=report.journey_ids)  # one grouped query per tick, not per view
    report.seconds = time.monotonic() - started
    return report
