"""Writing a scoring run's results: only what changed.

Score rows are loaded into a temporary staging table (COPY on PostgreSQL, executemany on SQLite), then ONE
UPDATE rewrites the score rows whose values differ and ONE INSERT (ON CONFLICT DO NOTHING) adds contacts
that had none. A re-run on
unchanged data writes no score row. History rows (ScoreChange) are only ever the changes, appended with COPY.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
from django.db import connection, transaction

from segments.models import ContactScore, ScoreChange, ScoringRun
from segments.services.bulk import NULL, copy_text, rows_insert, text_column

WRITE_BATCH = 50_000

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
# A row is rewritten only if one of these differs (run and scored_at then say which run changed it last).
VALUE_COLUMNS = [c for c in SCORE_COLUMNS if c not in ("contact_id", "run_id", "scored_at")]
DATETIME_COLUMNS = [SCORE_COLUMNS.index(c) for c in ("first_order_at", "last_order_at", "scored_at")]
CHANGE_COLUMNS = ["contact_id", "run_id", "changed_at", "field", "old", "new"]


def _nullable(values: np.ndarray) -> list:
    """A Python list with None where the float array holds NaN."""
    listed = values.tolist()
    for index in np.flatnonzero(np.isnan(values)).tolist():
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


def _utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC on PostgreSQL (COPY needs the zone); naive UTC on SQLite (Django's storage format)."""
    utc = moment.astimezone(dt.UTC)
    return utc if connection.vendor == "postgresql" else utc.replace(tzinfo=None)


def score_rows(
    run: ScoringRun, contact_ids: np.ndarray, scores: dict[str, np.ndarray], as_of: dt.datetime
) -> list[tuple]:
    """One tuple per contact, in SCORE_COLUMNS order, built column-wise."""
    n = len(contact_ids)
    buyer = scores["frequency"] > 0
    scored_at = _utc(as_of)

    def score(name: str) -> list:
        values = scores[name].astype(float)
        values[~buyer] = np.nan
        return [None if v is None else int(v) for v in _nullable(values)]

    def stamps(name: str) -> list:
        listed = _naive_utc(scores[name])
        if connection.vendor == "postgresql":
            listed = [None if v is None else v.replace(tzinfo=dt.UTC) for v in listed]
        return listed

    columns = [
        contact_ids.tolist(),
        [run.pk] * n,
        score("recency_days"),
        scores["frequency"].tolist(),
        np.round(scores["monetary_total"], 2).tolist(),
        _nullable(np.round(scores["monetary_avg"], 2)),
        stamps("first_ts"),
        stamps("last_ts"),
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


def _stamp_texts(timestamps: np.ndarray) -> list[str]:
    """Epoch seconds -> ISO UTC text for COPY (NULL for NaN)."""
    missing = np.isnan(timestamps)
    micros = np.where(missing, 0, np.round(timestamps * 1e6)).astype("int64").astype("datetime64[us]")
    texts = np.char.add(micros.astype(str), "+00").astype(object)
    texts[missing] = NULL
    return texts.tolist()


def score_fields(
    run: ScoringRun, contact_ids: np.ndarray, scores: dict[str, np.ndarray], as_of: dt.datetime
) -> list[list[str]]:
    """The same values as `score_rows`, as COPY text columns in SCORE_COLUMNS order, formatted by numpy
    (PostgreSQL): no tuple or adapted Python value per row."""
    n = len(contact_ids)
    not_buyer = ~(scores["frequency"] > 0)

    def score(name: str) -> list[str]:
        values = scores[name]
        missing = not_buyer | (np.isnan(values) if values.dtype.kind == "f" else False)
        return text_column(np.where(missing, 0, values).astype(np.int64), missing=missing)

    return [
        text_column(contact_ids.astype(np.int64)),
        [str(run.pk)] * n,
        score("recency_days"),
        text_column(scores["frequency"].astype(np.int64)),
        text_column(np.round(scores["monetary_total"].astype(float), 2)),
        text_column(np.round(scores["monetary_avg"].astype(float), 2)),
        _stamp_texts(scores["first_ts"]),
        _stamp_texts(scores["last_ts"]),
        score("r_score"),
        score("f_score"),
        score("m_score"),
        text_column(scores["rfm_segment"].astype(object)),
        text_column(scores["lifecycle_stage"].astype(object)),
        text_column(scores["p_alive"].astype(float)),
        text_column(scores["expected_purchases"].astype(float)),
        text_column(scores["expected_order_value"].astype(float)),
        text_column(scores["predicted_clv"].astype(float)),
        text_column(scores["clv_cluster"].astype(object)),
        [_utc(as_of).isoformat()] * n,
    ]


def _tracked(scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "segment": scores["rfm_segment"],
        "stage": scores["lifecycle_stage"],
        "cluster": scores["clv_cluster"],
    }


def changes_count(previous: dict[str, np.ndarray], scores: dict[str, np.ndarray]) -> int:
    return sum(int((previous[name] != new).sum()) for name, new in _tracked(scores).items())


def changes_write(
    run: ScoringRun,
    contact_ids: np.ndarray,
    previous: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    as_of: dt.datetime,
) -> int:
    """Append a history row for every value that changed since the previous run (found by comparing whole
    arrays), in batches, so the rows of a first run (about 3 per contact) never sit in memory at once."""
    changed_at = _utc(as_of)
    written = 0
    for field_name, new in _tracked(scores).items():
        old = previous[field_name]
        changed = np.flatnonzero(old != new)
        for start in range(0, len(changed), WRITE_BATCH):
            part = changed[start : start + WRITE_BATCH]
            if connection.vendor == "postgresql":
                fields = [
                    text_column(contact_ids[part]),
                    [str(run.pk)] * len(part),
                    [changed_at.isoformat()] * len(part),
                    [field_name] * len(part),
                    text_column(old[part].astype(object)),
                    text_column(new[part].astype(object)),
                ]
                with connection.cursor() as cursor:
                    copy_text(
                        cursor=cursor, table=ScoreChange._meta.db_table, columns=CHANGE_COLUMNS, fields=fields
                    )
            else:
                rows = [
                    (cid, run.pk, changed_at, field_name, o, v)
                    for cid, o, v in zip(
                        contact_ids[part].tolist(), old[part].tolist(), new[part].tolist(), strict=True
                    )
                ]
                rows_insert(
                    table=ScoreChange._meta.db_table, columns=CHANGE_COLUMNS, rows=rows, datetime_columns=[2]
                )
            written += len(part)
    return written


def scores_write(
    run: ScoringRun,
    contact_ids: np.ndarray,
    scores: dict[str, np.ndarray],
    as_of: dt.datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Stage every contact's row (built and sent batch by batch), then write only the rows whose values
    changed. Returns rows inserted or updated."""
    quote = connection.ops.quote_name
    table = quote(ContactScore._meta.db_table)
    staging_name = "segments_contactscore_staging"
    staging = quote(staging_name)
    column_sql = ", ".join(quote(c) for c in SCORE_COLUMNS)
    key = quote("contact_id")
    postgres = connection.vendor == "postgresql"
    same = "IS NOT DISTINCT FROM" if postgres else "IS"
    unchanged = " AND ".join(f"t.{quote(c)} {same} s.{quote(c)}" for c in VALUE_COLUMNS)
    assignments = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in SCORE_COLUMNS if c != "contact_id")
    if postgres and not ContactScore.objects.exists():
        written = _scores_copy_into_empty(run, contact_ids, scores, as_of, progress=progress)
        if written >= 0:
            return written
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS"
            )
        else:
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} AS SELECT * FROM {table} WHERE 0")
        cursor.execute(f"DELETE FROM {staging}")
        total = len(contact_ids)
        for start in range(0, total, WRITE_BATCH):
            part = slice(start, start + WRITE_BATCH)
            part_scores = {k: v[part] for k, v in scores.items()}
            if postgres:
                fields = score_fields(run, contact_ids[part], part_scores, as_of)
                copy_text(cursor=cursor, table=staging_name, columns=SCORE_COLUMNS, fields=fields)
                del fields
            else:
                batch = score_rows(run, contact_ids[part], part_scores, as_of)
                placeholders = ", ".join(["%s"] * len(SCORE_COLUMNS))
                adapt = connection.ops.adapt_datetimefield_value
                cursor.executemany(
                    f"INSERT INTO {staging} ({column_sql}) VALUES ({placeholders})",
                    [
                        tuple(adapt(v) if i in DATETIME_COLUMNS else v for i, v in enumerate(row))
                        for row in batch
                    ],
                )
            if progress:
                progress(min(start + WRITE_BATCH, total), total)
        if postgres:
            cursor.execute(f"ANALYZE {staging}")  # temp tables get no autovacuum statistics
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM {staging} AS s "
            f"WHERE t.{key} = s.{key} AND NOT ({unchanged})"
        )
        updated = cursor.rowcount
        # ON CONFLICT DO NOTHING, not an anti-join: an anti-join against the table being filled can make
        # PostgreSQL re-scan the growing heap for every staged row (quadratic: 545 s for 100k rows).
        # "WHERE true" lets SQLite parse the upsert clause after a SELECT.
        cursor.execute(
            f"INSERT INTO {table} ({column_sql}) SELECT {column_sql} FROM {staging} WHERE true "
            f"ON CONFLICT ({key}) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"DELETE FROM {staging}")
    return max(updated, 0) + max(inserted, 0)


def _scores_copy_into_empty(
    run: ScoringRun,
    contact_ids: np.ndarray,
    scores: dict[str, np.ndarray],
    as_of: dt.datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """A first run (no score row yet, PostgreSQL): COPY straight into the table, no staging pass. The table
    is locked first so no other writer can add a row between the emptiness check and the COPY."""
    table = ContactScore._meta.db_table
    total = len(contact_ids)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {connection.ops.quote_name(table)} IN SHARE ROW EXCLUSIVE MODE")
        if ContactScore.objects.exists():  # someone wrote rows meanwhile: take the staged path
            return -1
        for start in range(0, total, WRITE_BATCH):
            part = slice(start, start + WRITE_BATCH)
            fields = score_fields(run, contact_ids[part], {k: v[part] for k, v in scores.items()}, as_of)
            copy_text(cursor=cursor, table=table, columns=SCORE_COLUMNS, fields=fields)
            del fields
            if progress:
                progress(min(start + WRITE_BATCH, total), total)
    return total
