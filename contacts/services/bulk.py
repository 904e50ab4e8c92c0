"""Fast multi-row INSERT ... ON CONFLICT for the import hot paths.

Django's bulk_create(update_conflicts=True) is correct but compiles SQL per row (and
SQLite caps it at 999 parameters per statement, ~40 contacts). For the contact upsert we
prepare each column's adapter once and hand all rows to the driver's executemany
(sqlite3 in C, psycopg 3 in pipeline mode): same SQL semantics, several times faster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC
from operator import itemgetter
from typing import Any

from django.db import connections, models, router, transaction


def _adapter(field: models.Field, connection) -> Callable[[Any], Any] | None:
    kind = field.get_internal_type()
    ops = connection.ops
    if kind == "DateTimeField":
        if connection.vendor == "sqlite":
            # What Django's SQLite backend stores for aware datetimes: naive UTC text.
            return lambda v: None if v is None else str(v.astimezone(UTC).replace(tzinfo=None))
        return None
    if kind == "JSONField":
        return lambda v: ops.adapt_json_value(v, field.encoder)
    if kind == "DecimalField":
        return lambda v: ops.adapt_decimalfield_value(v, field.max_digits, field.decimal_places)
    return None


def rows_write(
    *,
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    fields: Sequence[str],
    conflict_fields: Sequence[str] = (),
    update_fields: Sequence[str] = (),
) -> None:
    """INSERT rows (dicts keyed by field attname, every field present) in one executemany,
    optionally as an upsert."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    opts = model._meta
    columns = [opts.get_field(name) for name in fields]
    adapters = [_adapter(field, connection) for field in columns]
    sql = (
        f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    conflict_sql = ""
    if conflict_fields:
        targets = ", ".join(quote(opts.get_field(name).column) for name in conflict_fields)
        updates = ", ".join(
            f"{quote(opts.get_field(name).column)} = EXCLUDED.{quote(opts.get_field(name).column)}"
            for name in update_fields
        )
        conflict_sql = (
            f" ON CONFLICT ({targets}) DO UPDATE SET {updates}"
            if updates
            else f" ON CONFLICT ({targets}) DO NOTHING"
        )
        sql += conflict_sql
    names = [field.attname for field in columns]
    pick = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    adapted = [(i, adapt) for i, adapt in enumerate(adapters) if adapt is not None]
    params = []
    for row in rows:
        values = list(pick(row))
        for i, adapt in adapted:
            values[i] = adapt(values[i])
        params.append(values)
    if connection.vendor == "postgresql":
        _pg_copy_write(connection, opts.db_table, [f.column for f in columns], params, conflict_sql)
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def values_in(
    *, model: type[models.Model], columns: Sequence[str], where: dict[str, Sequence[Any]]
) -> list[tuple]:
    """SELECT columns WHERE a IN (...) OR b IN (...): raw, because Django compiles each IN
    parameter separately (slow for 5,000-value batches). Plain text/int columns only."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    opts = model._meta
    clauses, params = [], []
    for name, values in where.items():
        values = list(values)
        if not values:
            continue
        column = quote(opts.get_field(name).column)
        if connection.vendor == "postgresql":  # one array parameter plans much faster than 5,000 literals
            clauses.append(f"{column} = ANY(%s)")
            params.append(values)
        else:
            clauses.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
            params.extend(values)
    if not clauses:
        return []
    select = ", ".join(quote(opts.get_field(name).column) for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM {quote(opts.db_table)} WHERE {' OR '.join(clauses)}", params)
        return cursor.fetchall()


def tuples_insert(*, model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT rows already in database form (tuples in `fields` order), one executemany."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    opts = model._meta
    if connection.vendor == "postgresql":
        _pg_copy_write(connection, opts.db_table, [opts.get_field(name).column for name in fields], rows, "")
        return
    columns = ", ".join(quote(opts.get_field(name).column) for name in fields)
    sql = f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def sequences_reset(*models_: type[models.Model]) -> None:
    """After inserting explicit ids: move PostgreSQL's id sequences past them (SQLite needs nothing)."""
    from django.core.management.color import no_style

    connection = connections[router.db_for_write(models_[0])]
    statements = connection.ops.sequence_reset_sql(no_style(), list(models_))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def _pg_copy_write(
    connection, table: str, columns: list[str], rows: Sequence[Sequence[Any]], conflict_sql: str
) -> None:
    """PostgreSQL: COPY the rows (straight into the table, or for an upsert into a temporary
    table and then one INSERT ... SELECT ... ON CONFLICT)."""
    quote = connection.ops.quote_name
    column_list = ", ".join(quote(c) for c in columns)
    with (
        transaction.atomic(using=connection.alias, savepoint=False),
        connection.cursor() as cursor,
        connection.wrap_database_errors,  # COPY runs on the driver's cursor: raise Django's IntegrityError
    ):
        target = quote(table)
        if conflict_sql:
            target = quote(f"_winback_upsert_{table}")
            # Only the written columns, without constraints (ids of new rows come from the table).
            cursor.execute(f"DROP TABLE IF EXISTS {target}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS "
                f"SELECT {column_list} FROM {quote(table)} WITH NO DATA"
            )
        with cursor.cursor.copy(f"COPY {target} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if conflict_sql:
            cursor.execute(
                f"INSERT INTO {quote(table)} ({column_list}) SELECT {column_list} FROM {target}{conflict_sql}"
            )


def rows_delete(*, model: type[models.Model], field: str, values: Sequence[Any]) -> None:
    """DELETE WHERE field IN values, raw: only for tables nothing else references (order lines)."""
    if not values:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    column = quote(model._meta.get_field(field).column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DELETE FROM {quote(model._meta.db_table)} WHERE {column} = ANY(%s)", [list(values)]
            )
        else:
            placeholders = ", ".join(["%s"] * len(values))
            cursor.execute(
                f"DELETE FROM {quote(model._meta.db_table)} WHERE {column} IN ({placeholders})", list(values)
            )
