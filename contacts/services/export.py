"""CSV/XLSX export of any list, streamed, safe against spreadsheet formula injection."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from contacts.cells import FORMULA_STARTS, spreadsheet_text  # noqa: F401 - FORMULA_STARTS re-exported

XLSX_MAX_ROWS = 1_048_575


def cell_safe(value: Any) -> Any:
    """Text starting like a formula gets a leading ' so spreadsheets show it as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
            if timezone.is_aware(value)
            else str(value)
        )
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, dict | list):  # JSON (attributes): as JSON text
        value = json.dumps(value, ensure_ascii=False, default=str)
    return spreadsheet_text(value)


Related = Callable[[list[int]], dict[int, Any]]  # row ids -> value per id (missing: empty)


def rows_export(
    *,
    queryset: QuerySet,
    columns: Sequence[tuple[str, str]],
    chunk_size: int = 2000,
    related: Sequence[tuple[str, Related]] = (),
) -> Iterator[list]:
    """Header, then one list per row: one SELECT streamed in chunks (no model instances).
    `related` columns (e.g. a contact's tags) cost one query per chunk of rows."""
    yield [header for header, _ in columns] + [header for header, _ in related]
    paths = [path for _, path in columns]
    if not related:
        for values in queryset.values_list(*paths).iterator(chunk_size=chunk_size):
            yield [cell_safe(v) for v in values]
        return
    rows = queryset.values_list("pk", *paths).iterator(chunk_size=chunk_size)
    while chunk := list(islice(rows, chunk_size)):
        found = [fetch([values[0] for values in chunk]) for _, fetch in related]
        for values in chunk:
            yield [cell_safe(v) for v in values[1:]] + [cell_safe(f.get(values[0])) for f in found]


def contact_tag_names(ids: list[int]) -> dict[int, str]:
    """Contact id -> its tag names, comma-separated (one query)."""
    from contacts.models import Contact

    names: dict[int, list[str]] = defaultdict(list)
    through = Contact.tags.through.objects.filter(contact_id__in=ids).order_by("tag__name")
    for contact_id, name in through.values_list("contact_id", "tag__name"):
        names[contact_id].append(name)
    return {contact_id: ", ".join(tags) for contact_id, tags in names.items()}


def csv_stream(*, rows: Iterable[list], rows_per_chunk: int = 2000) -> Iterator[str]:
    """CSV text in chunks of rows (one HTTP chunk per row would dominate the time)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so Excel opens UTF-8 correctly
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_file(*, rows: Iterable[list], title: str = "Export"):
    """An XLSX written in openpyxl's write-only mode to a temporary file (open, at position 0)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for count, row in enumerate(rows):
        if count > XLSX_MAX_ROWS:
            break
        # Control characters are not allowed in XLSX cells (openpyxl raises): dropped.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it
    workbook.save(handle)
    handle.seek(0)
    return handle
