"""The one import path: rows -> validate all -> (nothing written on any error) -> upsert in batches.

`csv_import` (admin upload, background job, `manage.py import_csv`) and `records_import`
(the JSON API) share everything after reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from contacts.importing import reader
from contacts.importing.encoding import EncodingRefused
from contacts.importing.schema import FIELDS, json_type_errors, order_finish, order_line_add, row_clean
from contacts.models import Contact
from contacts.services.contacts import contacts_upsert
from contacts.services.orders import events_record, orders_upsert, products_upsert
from contacts.services.results import RowError, RowErrors, UpsertResult
from contacts.services.suppression import suppressed_rows

BATCH_SIZE = 5000
MAX_AMOUNT = Decimal("1e10")  # Order.total is DECIMAL(12, 2)
WRITE_ATTEMPTS = 3  # a write that collides with a concurrent one (unique key) is run again
MAX_ERRORS = 1000  # reported; counting goes on
CACHE_ROWS = 250_000  # cleaned rows kept between validation and writing (bigger files are read twice)

Progress = Callable[[str, int, int], None]  # phase (validating, writing), rows done, rows in total


@dataclass
class ImportResult:
    kind: str
    format: str = ""
    encoding: str = ""
    delimiter: str = ","
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    dry_run: bool = False
    sample: list[dict] = field(default_factory=list)  # first cleaned rows, for a preview
    ignored_columns: list[str] = field(default_factory=list)  # in the file, but not imported
    skipped: list[dict] = field(default_factory=list)  # rows left out on purpose: erased people
    skipped_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error_add(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.error_count += 1
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(error.as_dict())


class _DryRun(Exception):  # noqa: N818 - control flow to roll back a trial run
    pass


def csv_import(
    *,
    kind: str,
    data: bytes,
    format_name: str = "auto",
    dry_run: bool = False,
    progress: Progress | None = None,
    source: str = Contact.ConsentSource.IMPORT,
) -> ImportResult:
    """Import a CSV file of `kind` (contacts, products, orders). See README, section csv."""
    try:
        text, encoding = reader.text_decode(data=data)
    except EncodingRefused as exc:
        result = ImportResult(kind=kind, dry_run=dry_run)
        result.error_add([RowError(0, "", str(exc))])
        return result
    if "\r" in text and "\n" not in text:  # classic Mac line endings
        text = text.replace("\r", "\n")
    delimiter = reader.delimiter_detect(text=text)
    headers, header_errors = reader.csv_headers(text=text, delimiter=delimiter)
    result = ImportResult(kind=kind, encoding=encoding, delimiter=delimiter, dry_run=dry_run)
    if header_errors:
        result.error_add(header_errors)
        return result
    if not headers or not any(h.strip() for h in headers):
        result.error_add([RowError(1, "", "The file is empty (no header row).")])
        return result
    column_map, errors = reader.columns_map(kind=kind, headers=headers, format_name=format_name)
    if column_map:
        result.format = column_map.format.name
        result.ignored_columns = column_map.ignored
    if errors:
        result.error_add(errors)
        return result
    result.total_rows = max(0, text.count("\n") - 1 + (0 if text.endswith("\n") else 1))  # estimate
    result = _run(
        kind=kind,
        records=lambda: reader.csv_records(text=text, delimiter=delimiter, column_map=column_map),
        names=column_map.names,
        result=result,
        progress=progress,
        source=source,
    )
    if result.ok and not result.total_rows:
        result.error_add([RowError(2, "", "The file has a header but no rows.")])
    return result


def records_import(
    *,
    kind: str,
    records: list[dict[str, Any]],
    dry_run: bool = False,
    source: str = Contact.ConsentSource.API,
) -> ImportResult:
    """Import already-parsed objects (the JSON API). Row numbers are list positions (0-based).

    Keys are the canonical field names; orders carry `lines: [{sku, product_name, quantity,
    unit_price}]`; contacts may carry `attributes: {...}`.
    """
    result = ImportResult(kind=kind, format="json", dry_run=dry_run)
    rows: list[tuple[int, dict]] = []
    allowed = set(FIELDS[kind]) | ({"attributes"} if kind == "contacts" else set())
    if kind == "orders":
        allowed.add("lines")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            result.error_add([RowError(index, "", "Expected an object.")])
            continue
        unknown = sorted(set(record) - allowed)
        if unknown:
            result.error_add([RowError(index, name, "Unknown field.") for name in unknown])
            continue
        wrong_types = json_type_errors(record=record, row=index)
        if kind == "orders" and isinstance(record.get("lines"), list):
            for line in record["lines"]:
                if isinstance(line, dict):
                    wrong_types += json_type_errors(record=line, row=index)
        if kind == "orders" and isinstance(record.get("lines"), list):
            line_fields = {"sku", "product_name", "quantity", "unit_price"}  # order values sit on the order
            for line in record["lines"]:
                if isinstance(line, dict):
                    wrong_types += [
                        RowError(index, f"lines.{name}", "Unknown field.")
                        for name in sorted(set(line) - line_fields)
                    ]
        if wrong_types:
            result.error_add(wrong_types)
            continue
        if kind == "contacts" and "attributes" in record and not isinstance(record["attributes"], dict):
            result.error_add([RowError(index, "attributes", "Expected an object.")])
            continue
        if kind == "orders":
            lines = record.get("lines") or []
            if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
                result.error_add([RowError(index, "lines", "Expected a list of objects.")])
                continue
            head = {k: v for k, v in record.items() if k != "lines"}
            if not lines:
                rows.append((index, head))
            for line in lines:
                rows.append((index, {**head, **{k: v for k, v in line.items() if k != "lines"}}))
        else:
            rows.append((index, record))
    # Rows with structural errors are still checked, so one response lists every problem.
    return _run(kind=kind, records=lambda: iter(rows), names={}, result=result, progress=None, source=source)


def _run(
    *,
    kind: str,
    records: Callable[[], Iterator[tuple[int, dict]]],
    names: dict[str, str],
    result: ImportResult,
    progress: Progress | None,
    source: str,
) -> ImportResult:
    # Pass 1: validate every row, keep cleaned rows while they fit.
    cache: list[dict] | None = []
    summary: dict[str, list] = {}  # orders: order id -> [first row, placed, contact, total, price]
    last_order = None
    contiguous = True
    estimate, result.total_rows = result.total_rows, 0
    for number, raw in records():
        result.total_rows += 1
        if progress and result.total_rows % BATCH_SIZE == 0:
            progress("validating", result.total_rows, max(estimate, result.total_rows))
        cleaned, errors = row_clean(kind=kind, raw=raw, row=number, columns=names)
        if errors:
            result.error_add(errors)
            continue
        if kind == "orders":
            order_id = cleaned["order_id"]
            if order_id != last_order and order_id in summary:
                contiguous = False
            last_order = order_id
            seen = summary.setdefault(order_id, [number, False, False, False, False, Decimal(0), {}])
            result.error_add(_order_conflicts(order_id, seen, cleaned, number, names))
            seen[1] |= cleaned.get("placed_at") is not None
            seen[2] |= bool(cleaned.get("customer_id") or cleaned.get("email"))
            seen[3] |= cleaned.get("total") is not None
            seen[4] |= cleaned.get("unit_price") is not None
            if cleaned.get("unit_price") is not None:
                seen[5] += cleaned["unit_price"] * (cleaned.get("quantity") or 1)
        if cache is not None:
            if len(cache) < CACHE_ROWS:
                cache.append(cleaned)
            else:
                cache = None
        if len(result.sample) < 10:
            result.sample.append(cleaned)
    for order_id, (first, placed, contact, total, price, line_sum, _) in summary.items():
        if not total and line_sum >= MAX_AMOUNT:
            column = names.get("unit_price", "unit_price")
            result.error_add([RowError(first, column, f"The order's lines add up to {line_sum}: too large.")])
        probe = {
            "_row": first,
            "order_id": order_id,
            "placed_at": True if placed else None,
            "email": "x" if contact else None,
            "total": 1 if total else None,
            "lines": [{"unit_price": 1}] if price else [],
        }
        result.error_add(order_finish(order=probe, columns=names))
    if result.error_count:
        return result

    # Pass 2: write, all or nothing.
    def cleaned_rows() -> Iterator[dict]:
        if cache is not None:
            yield from cache
            return
        for number, raw in records():
            yield row_clean(kind=kind, raw=raw, row=number, columns=names)[0]

    for attempt in range(1, WRITE_ATTEMPTS + 1):
        result.created = result.updated = result.skipped_count = 0
        result.skipped = []
        try:
            with transaction.atomic():
                _write(
                    kind=kind,
                    rows=cleaned_rows(),
                    contiguous=contiguous,
                    result=result,
                    progress=progress,
                    source=source,
                    names=names,
                )
                if result.dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        except RowErrors as exc:
            result.created = result.updated = 0
            result.error_add(exc.errors)
        except IntegrityError:
            # Another request or import created the same contact (or product) between our read
            # and our insert. Its row is committed now: running again updates it instead.
            if attempt < WRITE_ATTEMPTS:
                continue
            result.created = result.updated = 0
            result.error_add(
                [
                    RowError(
                        0, "", "Other imports kept changing the same rows at the same time: send it again."
                    )
                ]
            )
        break
    if result.skipped:
        skipped_rows = {row["row"] for row in result.skipped}
        result.sample = [row for row in result.sample if row.get("_row") not in skipped_rows]
    return result


ORDER_LEVEL_CHECKED = ("customer_id", "email", "placed_at", "total")


def _order_conflicts(
    order_id: str, seen: list, cleaned: dict, number: int, names: dict[str, str]
) -> list[RowError]:
    """Rows of one order must agree on its customer, date and total (empty cells agree with anything)."""
    first_values: dict[str, tuple[int, Any]] = seen[6]
    errors = []
    for name in ORDER_LEVEL_CHECKED:
        value = cleaned.get(name)
        if value in (None, ""):
            continue
        if name not in first_values:
            first_values[name] = (number, value)
        elif first_values[name][1] != value:
            row, earlier = first_values[name]
            errors.append(
                RowError(
                    number,
                    names.get(name, name),
                    f"Order {order_id} has {names.get(name, name)} {earlier} on row {row}, {value} here.",
                )
            )
    return errors


def _units(
    kind: str, rows: Iterator[dict], contiguous: bool, names: dict[str, str]
) -> Iterator[tuple[int, dict]]:
    """(rows consumed, unit to write): a row, or for orders one order with its lines."""
    if kind != "orders":
        for row in rows:
            yield 1, row
        return
    if not contiguous:
        grouped: dict[str, dict] = {}
        count = 0
        for row in rows:
            grouped[row["order_id"]] = order_line_add(order=grouped.get(row["order_id"]), row=row)
            count += 1
        for order in grouped.values():
            order_finish(order=order, columns=names)
            yield count, order
            count = 0
        return
    order, count = None, 0
    for row in rows:
        if order is not None and order["order_id"] != row["order_id"]:
            order_finish(order=order, columns=names)
            yield count, order
            order, count = None, 0
        order = order_line_add(order=order, row=row)
        count += 1
    if order is not None:
        order_finish(order=order, columns=names)
        yield count, order


def _upsert(kind: str, batch: list[dict], source: str) -> UpsertResult:
    if kind == "contacts":
        return contacts_upsert(rows=batch, source=source)
    if kind == "products":
        return products_upsert(rows=batch)
    if kind == "orders":
        return orders_upsert(orders=batch, source=source)
    return events_record(events=batch, source=source)


def _suppressed_drop(batch: list[dict], result: ImportResult, names: dict[str, str]) -> None:
    """Take rows of erased people out of the batch (one query) and report each as skipped."""
    found = suppressed_rows(rows=batch)
    if not found:
        return
    for index in sorted(found):
        row = batch[index]
        result.skipped_count += 1
        if len(result.skipped) < MAX_ERRORS:
            column = names.get("email", "email") if row.get("email") else names.get("phone", "phone")
            result.skipped.append(RowError(row.get("_row", 0), column, found[index]).as_dict())
    batch[:] = [row for index, row in enumerate(batch) if index not in found]


def _write(
    *,
    kind: str,
    rows: Iterator[dict],
    contiguous: bool,
    result: ImportResult,
    progress: Progress | None,
    source: str,
    names: dict[str, str],
) -> None:
    batch: list[dict] = []
    consumed = processed = 0

    def flush() -> None:
        nonlocal processed, consumed
        if not batch:
            return
        if kind != "products":  # contacts, orders and events may create a contact
            _suppressed_drop(batch, result, names)
        outcome = _upsert(kind, batch, source) if batch else UpsertResult()
        result.created += outcome.created
        result.updated += outcome.updated
        processed += consumed
        consumed = 0
        batch.clear()
        if progress:
            progress("writing", processed, result.total_rows)

    for used, unit in _units(kind, rows, contiguous, names):
        batch.append(unit)
        consumed += used
        if len(batch) >= BATCH_SIZE:
            flush()
    flush()
