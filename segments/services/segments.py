"""Segment writes: evaluation (size history) and CSV export."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator

from django.db import transaction
from django.utils import timezone

from contacts.cells import spreadsheet_text
from segments.models import Segment, SegmentSize
from segments.rules import RuleError, rules_counted
from segments.selectors import segment_contacts

EXPORT_COLUMNS = ["id", "external_id", "email", "first_name", "last_name", "country", "status"]


def segment_evaluate(*, segment: Segment) -> int:
    """Count the segment now; cache size and timing on the segment and add a SegmentSize history row."""
    started = time.monotonic()
    size = rules_counted(segment.rules, segment_id=segment.pk).count()
    duration_ms = int((time.monotonic() - started) * 1000)
    measured_at = timezone.now()
    with transaction.atomic():
        Segment.objects.filter(pk=segment.pk).update(
            size=size, last_evaluated_at=measured_at, last_duration_ms=duration_ms
        )
        SegmentSize.objects.create(
            segment=segment, size=size, measured_at=measured_at, duration_ms=duration_ms
        )
    segment.size, segment.last_evaluated_at, segment.last_duration_ms = size, measured_at, duration_ms
    return size


def segments_evaluate_all() -> dict[int, int | None]:
    """Evaluate every segment (nightly after scoring). A segment with broken rules is skipped (None)."""
    sizes: dict[int, int | None] = {}
    for segment in Segment.objects.order_by("pk"):
        try:
            sizes[segment.pk] = segment_evaluate(segment=segment)
        except RuleError:
            sizes[segment.pk] = None
    return sizes


def csv_safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection): contacts/cells.py."""
    return spreadsheet_text(value)


class _Echo:
    def write(self, value: str) -> str:
        return value


def segment_export_rows(*, segment: Segment) -> Iterator[str]:
    """CSV lines of the segment's contacts, streamed in pk order (one query, server-side iteration)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    rows = segment_contacts(segment=segment).order_by("pk").values_list(*EXPORT_COLUMNS)
    for row in rows.iterator(chunk_size=5_000):
        yield writer.writerow([csv_safe(v) for v in row])
