"""The tick's writes for a batch: the enrollments back (one UPDATE) and the step history (one INSERT).

On PostgreSQL both are one statement whose parameters are whole columns (arrays for unnest), bound on
the server in binary: a dozen parameters whatever the batch size. SQLite gets executemany.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from journeys.models import Enrollment, StepRun
from journeys.services.engine_batch import BatchEnrollment

# What a tick may change on an enrollment: (column, PostgreSQL array type).
WRITE_COLUMNS = (
    ("step_id", "bigint"),
    ("state", "text"),
    ("due_at", "timestamptz"),
    ("step_entered_at", "timestamptz"),
    ("visit", "integer"),
    ("exited_at", "timestamptz"),
    ("exit_reason", "text"),
    ("variant", "text"),
    ("wait_reason", "text"),
    ("data", "text"),  # JSON text, cast to jsonb in the statement
    ("holdout", "boolean"),
)

# One step run: (enrollment, step, visit, contact, journey, kind, branch, outcome, detail).
RUN_COLUMNS = (
    ("enrollment_id", "bigint"),
    ("step_id", "bigint"),
    ("visit", "integer"),
    ("contact_id", "bigint"),
    ("journey_id", "bigint"),
    ("kind", "text"),
    ("branch", "text"),
    ("outcome", "text"),
    ("detail", "text"),
)


def execute_arrays(sql: str, params: list) -> int:
    """PostgreSQL: run a statement whose parameters are whole columns (arrays for unnest) with server-side
    binding in binary. Django's psycopg cursor binds on the client, quoting and escaping every array
    element into the SQL text in Python: about 6x slower for a batch's dozen 1,000-element arrays.
    Errors are Django's, and the statement is logged like any other (query counts in tests hold)."""
    import psycopg

    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql.replace("%s", "%b"), params)
        rowcount = cursor.rowcount
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rowcount


def enrollments_write(enrollments: Sequence[BatchEnrollment], *, token: str) -> int:
    """Write the batch back and drop its claim. Returns rows updated. PostgreSQL: the batch's rows are
    locked by this transaction since they were loaded, so joining on the primary key is enough.
    SQLite: only where the claim of `token` still holds."""
    if not enrollments:
        return 0
    qn = connection.ops.quote_name
    table = qn(Enrollment._meta.db_table)
    if connection.vendor == "postgresql":
        columns = [[e.id for e in enrollments]]
        for name, _type in WRITE_COLUMNS:
            if name == "data":
                columns.append([json.dumps(e.data) for e in enrollments])
            else:
                columns.append([getattr(e, name) for e in enrollments])
        names = ", ".join(qn(name) for name in ("id", *(name for name, _type in WRITE_COLUMNS)))
        arrays = ", ".join(f"%s::{t}[]" for t in ("bigint", *(t for _name, t in WRITE_COLUMNS)))
        assignments = ", ".join(
            f"{qn(name)} = v.{qn(name)}" + ("::jsonb" if name == "data" else "")
            for name, _type in WRITE_COLUMNS
        )
        sql = (
            f"UPDATE {table} AS e SET {assignments}, {qn('claimed_by')} = '', {qn('claimed_until')} = NULL "
            f"FROM unnest({arrays}) AS v ({names}) WHERE e.{qn('id')} = v.{qn('id')}"
        )
        return execute_arrays(sql, columns)
    fields = [Enrollment._meta.get_field(name.removesuffix("_id")) for name, _type in WRITE_COLUMNS]
    assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    sql = (
        f"UPDATE {table} SET {assignments}, {qn('claimed_by')} = '', {qn('claimed_until')} = NULL "
        f"WHERE {qn('id')} = %s AND {qn('claimed_by')} = %s"
    )
    rows = [
        [*(f.get_db_prep_save(getattr(e, f.attname), connection) for f in fields), e.id, token]
        for e in enrollments
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        return cursor.rowcount


def runs_insert(runs: list[tuple], *, now: datetime) -> None:
    """One INSERT for the batch's step history (raises IntegrityError on a repeated visit).
    `runs` are tuples in RUN_COLUMNS order; every run of a batch ran at `now`."""
    if not runs:
        return
    qn = connection.ops.quote_name
    names = [name for name, _type in RUN_COLUMNS]
    head = f"INSERT INTO {qn(StepRun._meta.db_table)} ({', '.join(qn(c) for c in [*names, 'ran_at'])})"
    if connection.vendor == "postgresql":  # INSERT ... SELECT FROM unnest(arrays): one statement
        arrays = [list(column) for column in zip(*runs, strict=True)]
        unnest = ", ".join(f"%s::{t}[]" for _name, t in RUN_COLUMNS)
        execute_arrays(f"{head} SELECT *, %s::timestamptz FROM unnest({unnest})", [now, *arrays])
        return
    ran_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"{head} VALUES ({', '.join(['%s'] * (len(names) + 1))})", [(*run, ran_at) for run in runs]
        )
