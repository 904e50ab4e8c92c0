"""Bytes to rows: encoding and delimiter detection, header mapping to canonical fields."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from contacts.importing import encoding
from contacts.importing.formats import Format, formats
from contacts.importing.schema import REQUIRED
from contacts.services.results import RowError

DELIMITERS = (",", ";", "\t")


def text_decode(*, data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM), UTF-16, or Windows-1252 as Excel writes it; else EncodingRefused."""
    return encoding.text_decode(data=data)


def delimiter_detect(*, text: str) -> str:
    """The delimiter used most in the header line, outside quotes."""
    header = text.split("\n", 1)[0]
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class ColumnMap:
    format: Format
    fields: list[tuple[str, int]]  # canonical field, column index
    attributes: list[tuple[str, int]]  # attribute name, column index
    names: dict[str, str]  # canonical field -> column name as written in the file
    ignored: list[str] = field(default_factory=list)  # headers that map to nothing (typos, extras)

    def record(self, cells: list[str]) -> dict:
        size = len(cells)
        raw = {name: cells[i] if i < size else "" for name, i in self.fields}
        if self.attributes:
            raw["attributes"] = {name: cells[i] for name, i in self.attributes if i < size}
        return raw


def _map(kind: str, fmt: Format, headers: list[str]) -> tuple[ColumnMap, list[str]]:
    lookup = {h.strip().lower(): i for i, h in reversed(list(enumerate(headers)))}
    fields, names = [], {}
    for name, aliases in fmt.columns.get(kind, {}).items():
        for alias in aliases:
            if alias.lower() in lookup:
                fields.append((name, lookup[alias.lower()]))
                names[name] = headers[lookup[alias.lower()]].strip()
                break
    attributes = []
    for header, attribute in fmt.attributes.get(kind, {}).items():
        if header.lower() in lookup:
            attributes.append((attribute, lookup[header.lower()]))
    for i, header in enumerate(headers):
        for prefix in fmt.attribute_prefixes:
            if header.strip().lower().startswith(prefix) and len(header.strip()) > len(prefix):
                attributes.append((header.strip()[len(prefix) :], i))
    if kind != "contacts":
        attributes = []
    for attribute, i in attributes:
        names[f"attributes.{attribute}"] = headers[i].strip()
    missing = [
        # Only the alternatives this format has a column for (Shopify orders have no customer id).
        " or ".join(f'"{fmt.columns[kind][a][0]}"' for a in alternatives if a in fmt.columns[kind])
        for alternatives in REQUIRED[kind]
        if not any(a in names for a in alternatives)
    ]
    used = {i for _, i in fields} | {i for _, i in attributes}
    ignored = [h.strip() for i, h in enumerate(headers) if i not in used and h.strip()]
    return ColumnMap(fmt, fields, attributes, names, ignored), missing


def columns_map(
    *, kind: str, headers: list[str], format_name: str = "auto"
) -> tuple[ColumnMap | None, list[RowError]]:
    """Pick the format (auto: the best match of the headers) and map its columns."""
    candidates = formats()
    if format_name != "auto":
        if format_name not in candidates:
            return None, [RowError(1, "", f"Unknown format {format_name!r} (use {', '.join(candidates)}).")]
        candidates = {format_name: candidates[format_name]}
    scored = []
    header_set = {h.strip().lower() for h in headers}
    for fmt in candidates.values():
        if kind not in fmt.columns:
            continue
        column_map, missing = _map(kind, fmt, headers)
        signature = sum(1 for s in fmt.signature.get(kind, ()) if s.lower() in header_set)
        scored.append((not missing, signature, len(column_map.fields), column_map, missing))
    if not scored:
        return None, [RowError(1, "", f"The {format_name} format has no {kind} import.")]
    scored.sort(key=lambda s: s[:3], reverse=True)
    _, _, _, column_map, missing = scored[0]
    duplicates = _duplicates(headers, column_map)
    if duplicates:
        return column_map, duplicates
    if missing:
        return column_map, [
            RowError(1, m.replace('"', ""), f"Missing required column {m} ({column_map.format.label}).")
            for m in missing
        ]
    return column_map, []


def _duplicates(headers: list[str], column_map: ColumnMap) -> list[RowError]:
    """A column the import reads that appears twice: which one is meant is anyone's guess."""
    keys = [h.strip().lower() for h in headers]
    errors = []
    for _name, i in [*column_map.fields, *column_map.attributes]:
        others = [j for j, key in enumerate(keys) if key == keys[i] and j != i]
        if others:
            header = headers[i].strip()
            errors.append(
                RowError(
                    1,
                    header,
                    f'The column "{header}" appears twice (columns {i + 1} and {others[0] + 1}): '
                    "remove or rename one.",
                )
            )
    return errors


def csv_records(*, text: str, delimiter: str, column_map: ColumnMap) -> Iterator[tuple[int, dict]]:
    """(row number as a spreadsheet shows it, raw canonical values) for each non-empty data row."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        width = len(next(reader, None) or [])
    except csv.Error:
        width = 0
    number = 1
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # Strict: an unterminated quote would otherwise swallow the rest of the file into one cell.
            yield (
                number,
                {
                    "_structure": f"The file cannot be read from this row on ({exc}): check for a quote "
                    '(") that is opened but not closed, or a cell of more than 131,072 characters.'
                },
            )
            return
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < width or any(c.strip() for c in cells[width:]):
            # Another separator, a stray quote or a shifted row: its values would land in the wrong fields.
            yield (
                number,
                {
                    "_structure": f"This row has {len(cells)} cells but the header has {width} "
                    f"(separator {delimiter!r}): check the separator and quotes."
                },
            )
            continue
        yield number, column_map.record(cells)


def csv_headers(*, text: str, delimiter: str) -> tuple[list[str], list[RowError]]:
    """The header row's cells, or an error saying why the header cannot be read."""
    line = text.split("\n", 1)[0]
    if line.endswith("\r"):
        line = line[:-1]
    if "\r" in line:
        return [], [
            RowError(
                1,
                "",
                "The header row has a line break (a carriage return, CR) inside it, after "
                f'"{line.split(chr(13))[0][-40:]}": remove it (a column name cannot span two lines).',
            )
        ]
    if "\x00" in line:
        return [], [
            RowError(1, "", "The header row contains a NUL character: the file is damaged or binary.")
        ]
    try:
        headers = next(csv.reader(io.StringIO(line), delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        return [], [RowError(1, "", f"The header row cannot be read ({exc}): check its quotes.")]
    return headers, []
