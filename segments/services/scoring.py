"""The scoring run: RFM, lifecycle and CLV for every contact, set-based.

1. ONE grouped SQL query over purchases (orders not cancelled/refunded) -> numpy arrays.
2. Vectorised scores (segments.rfm, segments.clv).
3. Previous segment/stage/cluster fetched in bulk, compared vectorised -> ScoreChange rows for changes only.
4. Score rows upserted in batches (bulk_create update_conflicts), progress recorded on the ScoringRun.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Sum, Window
from django.db.models.functions import TruncDate
from django.utils import timezone

from contacts.models import Contact, Order
from segments import clv as clv_model
from segments import rfm
from segments.models import ContactScore, ScoreChange, ScoringRun
from segments.services.bulk import rows_insert, rows_upsert

logger = logging.getLogger(__name__)

WRITE_BATCH = 50_000


def clv_settings_current() -> dict:
    return {**clv_model.DEFAULT_CLV_SETTINGS, **getattr(settings, "WINBACK_CLV", {})}


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

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._name = ""
        self._started = time.monotonic()

    def start(self, name: str) -> None:
        now = time.monotonic()
        if self._name:
            self.seconds[self._name] = round(self.seconds.get(self._name, 0) + now - self._started, 3)
        self._name, self._started = name, now


def _progress(run: ScoringRun, percent: int, note: str) -> None:
    run.progress, run.progress_note = percent, note
    ScoringRun.objects.filter(pk=run.pk).update(progress=percent, progress_note=note)


def _purchase_aggregates() -> tuple[np.ndarray, ...]:
    """Per buyer: orders, distinct purchase days, total spent, spent on the first purchase day, first and last
    order time (epoch seconds).

    ONE GROUP BY over purchases, plus one window query listing the orders of each buyer's first purchase
    day (so the Gamma-Gamma model gets the average value of the *repeat* purchases, as in Fader, Hardie &
    Lee); both are set-based and read each order once.
    """
    purchases = Order.objects.exclude(status__in=Order.NOT_PURCHASES)
    rows = (
        purchases.order_by()
        .values("contact_id")
        .annotate(
            n=Count("pk"),
            days=Count(TruncDate("placed_at"), distinct=True),
            spent=Sum("total"),
            first=Min("placed_at"),
            last=Max("placed_at"),
        )
        .values_list("contact_id", "n", "days", "spent", "first", "last")
    )
    ids, counts, days, totals, firsts, lasts = [], [], [], [], [], []
    for contact_id, n, purchase_days, total, first, last in rows.iterator(chunk_size=20_000):
        ids.append(contact_id)
        counts.append(n)
        days.append(purchase_days)
        totals.append(total)
        firsts.append(first.timestamp())
        lasts.append(last.timestamp())
    ids_array = np.asarray(ids, dtype=np.int64)
    first_day_orders = (
        purchases.annotate(first_day=Window(Min(TruncDate("placed_at")), partition_by=[F("contact_id")]))
        .filter(placed_at__date=F("first_day"))
        .order_by()
        .values_list("contact_id", "total")
    )
    owners, amounts = [], []
    for contact_id, total in first_day_orders.iterator(chunk_size=20_000):
        owners.append(contact_id)
        amounts.append(float(total))
    order = np.argsort(ids_array)
    position = (
        order[np.searchsorted(ids_array, np.asarray(owners, dtype=np.int64), sorter=order)] if owners else []
    )
    first_day_totals = (
        np.bincount(position, weights=amounts, minlength=len(ids_array))
        if owners
        else np.zeros(len(ids_array))
    )
    return (
        ids_array,
        np.asarray(counts, dtype=np.int64),
        np.asarray(days, dtype=np.int64),
        np.asarray([float(t) for t in totals], dtype=float),
        first_day_totals,
        np.asarray(firsts, dtype=float),
        np.asarray(lasts, dtype=float),
    )


def _previous_values(contact_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Segment, stage and cluster currently stored, aligned to `contact_ids` ("" where no row)."""
    previous = {name: np.full(len(contact_ids), "", dtype=object) for name in ("segment", "stage", "cluster")}
    rows = ContactScore.objects.values_list("contact_id", "rfm_segment", "lifecycle_stage", "clv_cluster")
    ids, segments, stages, clusters = [], [], [], []
    for contact_id, segment, stage, cluster in rows.iterator(chunk_size=20_000):
        ids.append(contact_id)
        segments.append(segment)
        stages.append(stage)
        clusters.append(cluster)
    if not ids:
        return previous
    ids_array = np.asarray(ids, dtype=np.int64)
    if not len(contact_ids):
        return previous
    position = np.minimum(np.searchsorted(contact_ids, ids_array), len(contact_ids) - 1)
    found = contact_ids[position] == ids_array
    for name, values in (("segment", segments), ("stage", stages), ("cluster", clusters)):
        previous[name][position[found]] = np.asarray(values, dtype=object)[found]
    return previous


def scores_compute(
    *,
    contact_ids: np.ndarray,
    buyer_ids: np.ndarray,
    counts: np.ndarray,
    purchase_days: np.ndarray | None = None,
    totals: np.ndarray,
    first_day_totals: np.ndarray | None = None,
    first_ts: np.ndarray,
    last_ts: np.ndarray,
    as_of: dt.datetime,
) -> tuple[dict[str, np.ndarray], dict | None, str]:
    """Scores for all contacts (arrays aligned to sorted `contact_ids`), the CLV fit, why CLV is missing."""
    n = len(contact_ids)
    totals = np.round(totals, 2)  # cents: float sums must not break ties between equal spenders
    position = np.searchsorted(contact_ids, buyer_ids)
    now_ts = as_of.timestamp()
    day = 86_400.0

    frequency = np.zeros(n, dtype=np.int64)
    frequency[position] = counts
    monetary_total = np.zeros(n)
    monetary_total[position] = totals
    first = np.full(n, np.nan)
    first[position] = first_ts
    last = np.full(n, np.nan)
    last[position] = last_ts
    recency = np.full(n, np.nan)
    recency[position] = np.floor(np.maximum(now_ts - last_ts, 0) / day)
    first_days = np.full(n, np.nan)
    first_days[position] = np.maximum(now_ts - first_ts, 0) / day

    out: dict[str, np.ndarray] = {
        "frequency": frequency,
        "monetary_total": monetary_total,
        "monetary_avg": np.where(frequency > 0, monetary_total / np.maximum(frequency, 1), np.nan),
        "first_ts": first,
        "last_ts": last,
        "recency_days": recency,
    }
    r = np.zeros(n, dtype=np.int16)
    f = np.zeros(n, dtype=np.int16)
    m = np.zeros(n, dtype=np.int16)
    segment = np.full(n, "", dtype=object)
    if len(buyer_ids):
        r[position] = rfm.quintile_scores(recency[position], higher_is_better=False)
        f[position] = rfm.quintile_scores(counts)
        m[position] = rfm.quintile_scores(totals)
        segment[position] = rfm.segment_map_current().lookup(r[position], f[position], m[position])
    out.update(r_score=r, f_score=f, m_score=m, rfm_segment=segment)
    out["lifecycle_stage"] = rfm.lifecycle_stages(
        recency_days=recency,
        first_purchase_days=first_days,
        frequency=frequency,
        days=rfm.lifecycle_days_current(),
    )

    for name in ("p_alive", "expected_purchases", "expected_order_value", "predicted_clv"):
        out[name] = np.full(n, np.nan)
    out["clv_cluster"] = np.full(n, "", dtype=object)
    week = 7 * day
    # BG/NBD counts repeat purchase *days* (several orders on one day are one purchase occasion);
    # Gamma-Gamma wants the average value of those repeat purchases (the first day's spend left out).
    x = (counts if purchase_days is None else purchase_days) - 1.0
    if first_day_totals is None:
        m = totals / np.maximum(counts, 1)
    else:
        m = np.where(x > 0, (totals - first_day_totals) / np.maximum(x, 1), 0.0)
    try:
        result = clv_model.clv_predict(
            x=x,
            t_x=np.maximum(last_ts - first_ts, 0) / week,
            T=np.maximum(now_ts - first_ts, 0) / week,
            m=m,
            settings=clv_settings_current(),
        )
    except clv_model.ClvFitError as exc:
        return out, None, str(exc)
    out["p_alive"][position] = result.p_alive
    out["expected_purchases"][position] = result.expected_purchases
    out["expected_order_value"][position] = result.expected_order_value
    out["predicted_clv"][position] = result.predicted_clv
    out["clv_cluster"][position] = result.cluster
    return out, result.fit, ""


SCORE_COLUMNS = [
    "contact_id",
    "run_id",
    "recency_days",
    "frequency",
    "monetary_total",
    "monetary_avg",
    "first_order_at",
    "last_order_at",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "lifecycle_stage",
    "p_alive",
    "expected_purchases",
    "expected_order_value",
    "predicted_clv",
    "clv_cluster",
    "scored_at",
]
CHANGE_COLUMNS = ["contact_id", "run_id", "changed_at", "field", "old", "new"]


def _nullable(values: np.ndarray) -> list:
    """A Python list with None where the float array holds NaN."""
    listed = values.tolist()
    missing = np.flatnonzero(np.isnan(values)).tolist()
    for index in missing:
        listed[index] = None
    return listed


def _naive_utc(timestamps: np.ndarray) -> list:
    """Epoch seconds -> naive UTC datetimes (None for NaN), converted in C by numpy."""
    missing = np.isnan(timestamps)
    micros = np.where(missing, 0, np.round(timestamps * 1e6)).astype("int64").astype("datetime64[us]")
    listed = micros.astype(object).tolist()
    for index in np.flatnonzero(missing).tolist():
        listed[index] = None
    return listed


def _score_rows(
    run: ScoringRun, contact_ids: np.ndarray, scores: dict[str, np.ndarray], as_of: dt.datetime
) -> list[tuple]:
    """One tuple per contact, in SCORE_COLUMNS order, built column-wise."""
    n = len(contact_ids)
    buyer = scores["frequency"] > 0
    scored_at = as_of.astimezone(dt.UTC).replace(tzinfo=None)

    def score(name: str) -> list:
        values = scores[name].astype(float)
        values[~buyer] = np.nan
        return [None if v is None else int(v) for v in _nullable(values)]

    columns = [
        contact_ids.tolist(),
        [run.pk] * n,
        score("recency_days"),
        scores["frequency"].tolist(),
        np.round(scores["monetary_total"], 2).tolist(),
        _nullable(np.round(scores["monetary_avg"], 2)),
        _naive_utc(scores["first_ts"]),
        _naive_utc(scores["last_ts"]),
        score("r_score"),
        score("f_score"),
        score("m_score"),
        scores["rfm_segment"].tolist(),
        scores["lifecycle_stage"].tolist(),
        _nullable(scores["p_alive"]),
        _nullable(scores["expected_purchases"]),
        _nullable(scores["expected_order_value"]),
        _nullable(scores["predicted_clv"]),
        scores["clv_cluster"].tolist(),
        [scored_at] * n,
    ]
    return list(zip(*columns, strict=True))


def _change_rows(
    run: ScoringRun,
    contact_ids: np.ndarray,
    previous: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    as_of: dt.datetime,
) -> list[tuple]:
    """Rows for values that changed since the previous run, found by comparing whole arrays."""
    changed_at = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    current = {
        "segment": scores["rfm_segment"],
        "stage": scores["lifecycle_stage"],
        "cluster": scores["clv_cluster"],
    }
    rows: list[tuple] = []
    for field_name, new in current.items():
        old = previous[field_name]
        changed = np.flatnonzero(old != new)
        rows.extend(
            (cid, run.pk, changed_at, field_name, o, v)
            for cid, o, v in zip(
                contact_ids[changed].tolist(), old[changed].tolist(), new[changed].tolist(), strict=True
            )
        )
    return rows


def scoring_run_execute(*, run: ScoringRun, as_of: dt.datetime | None = None) -> ScoringRun:
    """Score every contact. Claims the run (queued -> running) so a run executes at most once."""
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
    phases = _Phases()
    try:
        phases.start("read purchases")
        _progress(run, 5, "Reading purchases")
        buyer_ids, counts, days, totals, first_day_totals, first_ts, last_ts = _purchase_aggregates()
        contact_ids = np.fromiter(
            Contact.objects.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=50_000),
            dtype=np.int64,
        )
        keep = np.isin(buyer_ids, contact_ids)
        columns = (buyer_ids, counts, days, totals, first_day_totals, first_ts, last_ts)
        buyer_ids, counts, days, totals, first_day_totals, first_ts, last_ts = (a[keep] for a in columns)
        order = np.argsort(buyer_ids)
        columns = (buyer_ids, counts, days, totals, first_day_totals, first_ts, last_ts)
        buyer_ids, counts, days, totals, first_day_totals, first_ts, last_ts = (a[order] for a in columns)

        phases.start("compute scores and CLV")
        _progress(run, 15, "Computing scores and fitting CLV")
        scores, fit, why_no_clv = scores_compute(
            contact_ids=contact_ids,
            buyer_ids=buyer_ids,
            counts=counts,
            purchase_days=days,
            totals=totals,
            first_day_totals=first_day_totals,
            first_ts=first_ts,
            last_ts=last_ts,
            as_of=as_of,
        )
        phases.start("read previous values")
        previous = _previous_values(contact_ids)

        phases.start("write changes")
        _progress(run, 30, "Recording changes")
        changes = _change_rows(run, contact_ids, previous, scores, as_of)
        for start in range(0, len(changes), WRITE_BATCH):
            rows_insert(
                table=ScoreChange._meta.db_table,
                columns=CHANGE_COLUMNS,
                rows=changes[start : start + WRITE_BATCH],
                datetime_columns=[2],
            )

        phases.start("write scores")
        _progress(run, 40, "Saving scores")
        rows = _score_rows(run, contact_ids, scores, as_of)
        for start in range(0, len(rows), WRITE_BATCH):
            rows_upsert(
                table=ContactScore._meta.db_table,
                columns=SCORE_COLUMNS,
                key="contact_id",
                rows=rows[start : start + WRITE_BATCH],
                datetime_columns=[6, 7, 18],
            )
            done = min(start + WRITE_BATCH, len(rows))
            _progress(run, 40 + int(55 * done / len(rows)), f"Saved {done:,} of {len(rows):,} scores")

        if connection.vendor == "postgresql":
            # Score rows were just rewritten: fresh planner statistics keep segment queries on good plans.
            phases.start("analyze")
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {ContactScore._meta.db_table}, {ScoreChange._meta.db_table}")

        run.status = ScoringRun.Status.DONE
        run.contacts_scored = len(contact_ids)
        run.buyers = len(buyer_ids)
        run.changes_recorded = len(changes)
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
