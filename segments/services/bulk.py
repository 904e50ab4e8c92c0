"""Fast batched writes for the scoring run: COPY on PostgreSQL, executemany on SQLite.

The ORM's bulk_create builds a model instance per row; at a million score rows that alone takes minutes.
Rows here are plain tuples in column order, with Python values (datetime, float, str, None).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, transaction


def _adapt_for_sqlite(rows: Iterable[tuple], datetime_columns: Sequence[int]) -> list[tuple]:
    adapt = connection.ops.adapt_datetimefield_value
    if not datetime_columns:
        return list(rows)
    adapted = []
    for row in rows:
        values = list(row)
        for index in datetime_columns:
            values[index] = adapt(values[index])
        adapted.append(tuple(values))
    return adapted


def rows_insert(
    *, table: str, columns: Sequence[str], rows: list[tuple], datetime_columns: Sequence[int] = ()
) -> None:
    """Append rows to `table`."""
    if not rows:
        return
    quote = connection.ops.quote_name
    column_sql = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {quote(table)} ({column_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {quote(table)} ({column_sql}) VALUES ({placeholders})",
            _adapt_for_sqlite(rows, datetime_columns),
        )


def rows_upsert(
    *,
    table: str,
    columns: Sequence[str],
    key: str,
    rows: list[tuple],
    datetime_columns: Sequence[int] = (),
) -> None:
    """Insert rows, or update every other column where `key` already exists."""
    if not rows:
        return
    quote = connection.ops.quote_name
    column_sql = ", ".join(quote(c) for c in columns)
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns if c != key)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            staging = quote(f"{table}_staging")
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {quote(table)})")
            cursor.execute(f"TRUNCATE {staging}")
            with cursor.cursor.copy(f"COPY {staging} ({column_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {quote(table)} ({column_sql}) SELECT {column_sql} FROM {staging} "
                f"ON CONFLICT ({quote(key)}) DO UPDATE SET {updates}"
            )
            cursor.execute(f"TRUNCATE {staging}")
            return
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {quote(table)} ({column_sql}) VALUES ({placeholders}) "
            f"ON CONFLICT ({quote(key)}) DO UPDATE SET {updates}",
            _adapt_for_sqlite(rows, datetime_columns),
        )


NULL = "\\N"


def text_column(values, *, missing=None) -> list[str]:
    """A numpy column as COPY text fields (numpy's shortest round-trip repr for floats, `\\N` for NULL),
    converted in C. `missing` marks NULLs; for float columns NaN is NULL as well."""
    import numpy as np

    if values.dtype == object:
        texts = np.array(
            [v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n") for v in values.tolist()],
            dtype=object,
        )
    else:
        texts = values.astype(str).astype(object)
        if values.dtype.kind == "f":
            nan = np.isnan(values)
            missing = nan if missing is None else (missing | nan)
    if missing is not None and missing.any():
        texts[missing] = NULL
    return texts.tolist()


def copy_text(*, cursor, table: str, columns: Sequence[str], fields: Sequence[list[str]]) -> None:
    """COPY pre-formatted text columns (lists of equal length) into `table` as one buffer: the rows are
    joined in C (`str.join`), no Python value is adapted per row."""
    if not fields or not fields[0]:
        return
    quote = connection.ops.quote_name
    column_sql = ", ".join(quote(c) for c in columns)
    buffer = "\n".join(map("\t".join, zip(*fields, strict=True))) + "\n"
    with cursor.cursor.copy(f"COPY {quote(table)} ({column_sql}) FROM STDIN") as copy:
        copy.write(buffer.encode())
