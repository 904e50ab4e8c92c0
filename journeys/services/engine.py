"""The tick: claim due enrollments in batches and advance them step by step.

How "at most once" holds with retried tasks, killed workers and two workers at once:
1. Claim. A conditional UPDATE sets claimed_by/claimed_until (a lease) on due, unclaimed rows
   (PostgreSQL picks the ids with SELECT ... FOR UPDATE SKIP LOCKED; SQLite serialises writers).
   The row count is checked. A crashed worker's claims expire with the lease and are picked again.
2. Advance. In ONE transaction per batch: load the batch (contacts joined), group by current step,
   run each step's batch handler once per group, repeat while contacts are due now (up to a wait
   or the end), then insert every StepRun (UNIQUE (enrollment, step, visit): a second worker
   that advanced the same contacts makes this insert fail and the whole batch rolls back) and
   write the enrollments back only where the claim is still ours (row count checked).
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
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from journeys.models import Edge, Enrollment, Journey, Step, StepRun
from journeys.steps import BatchContext, StepResult, registry

logger = logging.getLogger(__name__)


def _lease() -> timedelta:
    """How long a claim holds before another worker may take the contacts over (crashed worker)."""
    from django.conf import settings

    from winback.env import env_int

    seconds = getattr(settings, "JOURNEYS_CLAIM_LEASE_SECONDS", None)
    return timedelta(seconds=seconds or env_int("JOURNEYS_CLAIM_LEASE_SECONDS", 300, minimum=1))


MAX_ROUNDS = 50
ERROR_RETRY = timedelta(minutes=5)
MAX_ERRORS = 5


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


@dataclass
class _Graph:
    steps: dict[int, Step]
    edges: dict[tuple[int, str], int]


class _GraphCache:
    """Published versions are frozen, so their graphs can be cached for the whole tick."""

    def __init__(self) -> None:
        self.graphs: dict[int, _Graph] = {}

    def load(self, version_ids: set[int]) -> None:
        missing = version_ids - self.graphs.keys()
        if not missing:
            return
        steps = list(Step.objects.filter(version_id__in=missing))
        edges = Edge.objects.filter(version_id__in=missing).values_list(
            "version_id", "from_step_id", "branch", "to_step_id"
        )
        for version_id in missing:
            self.graphs[version_id] = _Graph(steps={}, edges={})
        for step in steps:
            self.graphs[step.version_id].steps[step.id] = step
        for version_id, from_id, branch, to_id in edges:
            self.graphs[version_id].edges[(from_id, branch)] = to_id

    def step(self, version_id: int, step_id: int | None) -> Step | None:
        return self.graphs[version_id].steps.get(step_id) if step_id else None

    def next_step(self, version_id: int, step_id: int, branch: str) -> int | None:
        return self.graphs[version_id].edges.get((step_id, branch))


def due_enrollments(*, now: datetime):
    return Enrollment.objects.filter(
        state__in=Enrollment.IN_FLIGHT, due_at__lte=now, journey__status=Journey.Status.ACTIVE
    ).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def enrollments_claim(*, now: datetime, token: str, limit: int, lease: timedelta | None = None) -> int:
    """Claim up to `limit` due enrollments for `token`. Returns how many were claimed."""
    lease = lease or _lease()
    due = due_enrollments(now=now).order_by("due_at")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = list(
                due.select_for_update(skip_locked=True, of=("self",)).values_list("id", flat=True)[:limit]
            )
            if not ids:
                return 0
            target = Enrollment.objects.filter(id__in=ids)
        else:
            target = Enrollment.objects.filter(id__in=due.values("id")[:limit])
        # Re-check the claim condition in the UPDATE itself: only rows still free are taken.
        return target.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).update(
            claimed_by=token, claimed_until=now + lease
        )


def conflicts_fail(*, token: str, now: datetime) -> int:
    """After a batch of `token` hit the step-history key: the enrollments among it whose current step
    and visit already ran (the history says so, yet they were not moved on) can never run it again,
    so they fail visibly ("step already ran") instead of conflicting at every tick. Contacts that
    another worker moved on are no longer ours and are left alone. Returns how many failed."""
    already = StepRun.objects.filter(
        enrollment=OuterRef("pk"), step=OuterRef("step"), visit=OuterRef("visit")
    )
    return (
        Enrollment.objects.filter(claimed_by=token, state__in=Enrollment.IN_FLIGHT)
        .filter(Exists(already))
        .update(
            state=Enrollment.State.FAILED,
            exit_reason="step already ran",
            exited_at=now,
            due_at=None,
            wait_reason="",
            claimed_by="",
            claimed_until=None,
        )
    )


def claims_release(*, token: str) -> int:
    return Enrollment.objects.filter(claimed_by=token).update(claimed_by="", claimed_until=None)


_WRITE_FIELDS = (
    "step",
    "state",
    "due_at",
    "step_entered_at",
    "visit",
    "exited_at",
    "exit_reason",
    "variant",
    "wait_reason",
    "data",
    "holdout",
)


def _converters(fields) -> list:
    """Per column, how a Python value becomes a query parameter (cheaper than get_db_prep_save per cell)."""
    from django.db import models

    converters = []
    for f in fields:
        if isinstance(f, models.DateTimeField):
            converters.append(connection.ops.adapt_datetimefield_value)
        elif isinstance(f, models.JSONField):
            converters.append(lambda value, f=f: f.get_db_prep_save(value, connection))
        else:
            converters.append(None)
    return converters


def _write_enrollments(enrollments: list[Enrollment], token: str) -> int:
    """One executemany UPDATE for the batch, only where our claim still holds. Returns rows updated."""
    if not enrollments:
        return 0
    fields = [Enrollment._meta.get_field(name) for name in _WRITE_FIELDS]
    converters = list(zip([f.attname for f in fields], _converters(fields), strict=True))
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    sql = (
        f"UPDATE {qn(Enrollment._meta.db_table)} SET {assignments}, "
        f"{qn('claimed_by')} = '', {qn('claimed_until')} = NULL "
        f"WHERE {qn('id')} = %s AND {qn('claimed_by')} = %s"
    )
    rows = []
    for e in enrollments:
        row = []
        for attname, convert in converters:
            value = getattr(e, attname)
            row.append(convert(value) if convert and value is not None else value)
        rows.append(row)
    if connection.vendor == "postgresql":
        return _write_enrollments_postgresql(fields, enrollments, rows, token)
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[*row, e.id, token] for e, row in zip(enrollments, rows, strict=True)])
        return cursor.rowcount


def _array_type(field) -> str:
    from django.db import models

    if isinstance(field, models.JSONField):
        return "text"  # sent as JSON text, cast to jsonb in the statement
    db_type = field.db_type(connection)
    return "text" if db_type.startswith("varchar") else db_type


def _write_enrollments_postgresql(fields, enrollments, rows, token: str) -> int:
    """PostgreSQL: UPDATE ... FROM unnest(<one array per column>): one statement, a dozen parameters,
    whatever the batch size. `token` is unused here: this transaction has locked the rows since the
    batch was loaded (see batch_advance), so joining on the primary key is enough."""
    import json

    from django.db import models

    qn = connection.ops.quote_name
    types = ["bigint", *(_array_type(f) for f in fields)]
    names = ["id", *(f.column for f in fields)]
    assignments = ", ".join(
        f"{qn(f.column)} = v.{qn(f.column)}" + ("::jsonb" if isinstance(f, models.JSONField) else "")
        for f in fields
    )
    columns = [[e.id for e in enrollments]]
    for index, model_field in enumerate(fields):
        values = [row[index] for row in rows]
        if isinstance(model_field, models.JSONField):
            values = [json.dumps(getattr(e, model_field.attname)) for e in enrollments]
        columns.append(values)
    sql = (
        f"UPDATE {qn(Enrollment._meta.db_table)} AS e SET {assignments}, "
        f"{qn('claimed_by')} = '', {qn('claimed_until')} = NULL "
        f"FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) AS v ({', '.join(qn(n) for n in names)}) "
        f"WHERE e.{qn('id')} = v.{qn('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, columns)
        return cursor.rowcount


_RUN_COLUMNS = (
    "enrollment_id",
    "step_id",
    "visit",
    "contact_id",
    "journey_id",
    "kind",
    "branch",
    "outcome",
    "detail",
    "ran_at",
)


def _insert_runs(runs: list[tuple], now: datetime) -> None:
    """One executemany INSERT for the batch's step history (raises IntegrityError on a repeated visit).

    `runs` are tuples in _RUN_COLUMNS order without ran_at (every run of a batch ran at `now`)."""
    if not runs:
        return
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(StepRun._meta.db_table)} ({', '.join(qn(c) for c in _RUN_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(_RUN_COLUMNS))})"
    )
    ran_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # INSERT ... SELECT FROM unnest(arrays): one statement
            types = ("bigint", "bigint", "integer", "bigint", "bigint", "text", "text", "text", "text")
            arrays = [list(column) for column in zip(*runs, strict=True)]
            head = sql.split(" VALUES ")[0]
            cursor.execute(
                f"{head} SELECT *, %s FROM unnest({', '.join(f'%s::{t}[]' for t in types)})",
                [now, *arrays],
            )
        else:
            cursor.executemany(sql, [(*run, ran_at) for run in runs])


def _run_group(step: Step, group: list[Enrollment], ctx: BatchContext) -> dict[int, StepResult]:
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
            detail = f"error: {exc.__class__.__name__}: {exc}"[:200]
            if errors >= MAX_ERRORS:
                results[e.id] = StepResult(None, detail=detail, exit=("failed", detail[:64]))
            else:
                results[e.id] = StepResult(None, due_at=ctx.now + ERROR_RETRY, detail=f"retry after {detail}")
        return results


def batch_advance(
    *, token: str, now: datetime, graphs: _GraphCache | None = None
) -> tuple[TickReport, list[int]]:
    """Advance the enrollments claimed by `token`. Returns the report and message ids to deliver."""
    report = TickReport()
    graphs = graphs or _GraphCache()
    ctx = BatchContext(now=now)
    with transaction.atomic():
        batch = (
            Enrollment.objects.filter(claimed_by=token).select_related("contact", "journey").order_by("id")
        )
        if connection.vendor == "postgresql":
            # Row locks for the whole batch: conversions, migrations and other workers wait for our
            # commit (and then see the new state) instead of racing with it.
            batch = batch.select_for_update(of=("self",))
        enrollments = list(batch)
        if not enrollments:
            return report, []
        report.claimed = len(enrollments)
        _cap_locks_take(enrollments)
        graphs.load({e.version_id for e in enrollments})
        runs: list[tuple] = []
        pending = enrollments
        for _round in range(MAX_ROUNDS):
            groups: dict[int | None, list[Enrollment]] = defaultdict(list)
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
        _insert_runs(runs, now)
        written = _write_enrollments(enrollments, token)
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


_CAP_LOCK_CLASS = 73_020_011  # first key of the two-key advisory locks: "journeys frequency cap"


def _cap_locks_take(enrollments: list[Enrollment]) -> None:
    """PostgreSQL: lock (until commit) the contacts of this batch that are in a journey with a
    frequency cap, all at once and in id order (no deadlock between workers). A worker whose batch
    messages the same contact waits for ours to commit, then counts our messages: the cap holds
    across workers. SQLite serialises writers anyway. One statement whatever the batch size."""
    if connection.vendor != "postgresql":
        return
    ids = sorted(
        {
            e.contact_id
            for e in enrollments
            if e.journey.frequency_cap_messages and e.journey.frequency_cap_days
        }
    )
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, (x %% 2147483647)::int)) "
            "FROM (SELECT x FROM unnest(%s::bigint[]) AS x ORDER BY x) AS ordered",
            [_CAP_LOCK_CLASS, ids],
        )


def _finish(e: Enrollment, now: datetime, state: str, reason: str) -> None:
    e.state, e.exit_reason, e.exited_at, e.due_at, e.wait_reason = state, reason[:64], now, None, ""


def _apply(
    e: Enrollment, step: Step, result: StepResult, now: datetime, graphs: _GraphCache, runs: list[tuple]
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
    batch_size: int = 1000,
    max_batches: int | None = None,
    max_seconds: float | None = 50.0,
    deliver: str = "later",
) -> TickReport:
    """Advance every due enrollment (up to the limits). `now` fixed for tests, else the clock per batch."""
    report = TickReport()
    started = time.monotonic()
    graphs = _GraphCache()
    token = uuid.uuid4().hex
    while max_batches is None or report.batches < max_batches:
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
        at = now or timezone.now()
        if not enrollments_claim(now=at, token=token, limit=batch_size):
            break
        try:
            batch, message_ids = batch_advance(token=token, now=at, graphs=graphs)
        except (IntegrityError, ClaimLost) as exc:
            # Someone else advanced these contacts (expired lease): nothing of ours was written.
            report.conflicts += 1
            report.errors.append(str(exc)[:200])
            if isinstance(exc, IntegrityError):
                conflicts_fail(token=token, now=at)
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
    if report.journey_ids:
        from journeys.services.stats import journey_stats_refresh

        journey_stats_refresh(journey_ids=report.journey_ids)  # one grouped query per tick, not per view
    report.seconds = time.monotonic() - started
    return report
