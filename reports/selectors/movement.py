"""Audience movement: sizes over time (rollups), transition matrices between two moments (ScoreChange
history), and the CLV-inactive re-engagement answer against the holdout."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from contacts.models import Contact
from journeys.models import Enrollment
from reports.models import DailyCount
from reports.selectors.history import value_at
from segments.models import ScoreChange

FIELDS = {
    # field: (label, ContactScore column)
    "segment": ("RFM segment", "rfm_segment"),
    "stage": ("Lifecycle stage", "lifecycle_stage"),
    "cluster": ("Value cluster", "clv_cluster"),
}


def sizes_over_time(*, metric: str = "segment", days: int = 90, today: dt.date | None = None) -> dict:
    """{"days": [...], "series": {key: [count per day or None]}} from the daily snapshots (one query)."""
    rows = list(DailyCount.objects.filter(metric=metric).order_by("day").values_list("day", "key", "value"))
    if today is not None:
        rows = [r for r in rows if (today - r[0]).days < days]
    day_list = sorted({r[0] for r in rows})[-days:]
    index = {d: i for i, d in enumerate(day_list)}
    series: dict[str, list[int | None]] = {}
    for day, key, value in rows:
        if day in index:
            series.setdefault(key or "(none)", [None] * len(day_list))[index[day]] = value
    return {"days": [d.isoformat() for d in day_list], "series": series}


def _movers(*, field: str, start: dt.datetime, end: dt.datetime) -> QuerySet[Contact]:
    column = FIELDS[field][1]
    changed = ScoreChange.objects.filter(
        contact_id=OuterRef("pk"), field=field, changed_at__gt=start, changed_at__lte=end
    )
    return (
        Contact.objects.filter(Exists(changed))
        .annotate(
            value_from=value_at(field=field, current=f"score__{column}", moment=start, contact_ref="pk"),
            value_to=value_at(field=field, current=f"score__{column}", moment=end, contact_ref="pk"),
        )
        .order_by()
    )


_MATRIX_SQL = """
    SELECT value_from, value_to, COUNT(*) FROM (
        SELECT
            FIRST_VALUE(old) OVER (PARTITION BY contact_id ORDER BY changed_at, id) AS value_from,
            FIRST_VALUE(new) OVER (PARTITION BY contact_id ORDER BY changed_at DESC, id DESC) AS value_to,
            ROW_NUMBER() OVER (PARTITION BY contact_id ORDER BY changed_at, id) AS nth
        FROM {table} WHERE field = %s AND changed_at > %s AND changed_at <= %s
    ) AS moves WHERE nth = 1 GROUP BY value_from, value_to"""


def transition_matrix(*, field: str, start: dt.datetime, end: dt.datetime) -> dict:
    """Contacts whose value changed between `start` and `end`: counts by (value at start, value at end).
    One pass over the period's changes (one query): the value at the start is the old value of the
    contact's first change in the period, the value at the end the new value of its last one (the same as
    `value_at` on a consistent change history, without two lookups per contact)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _MATRIX_SQL.format(table=ScoreChange._meta.db_table),
            [field, *(connection.ops.adapt_datetimefield_value(t) for t in (start, end))],
        )
        rows = [{"value_from": a, "value_to": b, "n": n} for a, b, n in cursor.fetchall()]
    cells = {(r["value_from"] or "", r["value_to"] or ""): r["n"] for r in rows}
    values = sorted({a for a, _ in cells} | {b for _, b in cells})
    return {
        "field": field,
        "label": FIELDS[field][0],
        "values": values,
        "rows": [{"value": a, "cells": [(b, cells.get((a, b), 0)) for b in values]} for a in values],
        "total": sum(cells.values()),
        "cells": cells,
    }


def transition_contacts(*, field: str, start: dt.datetime, end: dt.datetime, value_from: str, value_to: str):
    """The contacts of one cell of the matrix."""
    return (
        _movers(field=field, start=start, end=end)
        .filter(value_from=value_from, value_to=value_to)
        .order_by("pk")
    )


def inactive_reengagement(*, journey_id: int | None = None) -> list[dict]:
    """Per journey: contacts who entered while in the 'Inactive' value cluster, and how many are no longer
    Inactive now, treated vs holdout (one grouped query)."""
    enrollments = Enrollment.objects.all()
    if journey_id:
        enrollments = enrollments.filter(journey_id=journey_id)
    rows = (
        enrollments.annotate(
            cluster_at_entry=value_at(
                field="cluster", current="contact__score__clv_cluster", moment=OuterRef("entered_at")
            )
        )
        .filter(cluster_at_entry="Inactive")
        .values("journey_id", "journey__name", "holdout")
        .annotate(
            n=Count("id"),
            moved=Count("id", filter=~Q(contact__score__clv_cluster="Inactive")),
        )
        .order_by("journey__name", "holdout")
    )
    by_journey: dict[int, dict] = {}
    for row in rows:
        item = by_journey.setdefault(
            row["journey_id"],
            {"journey_id": row["journey_id"], "journey": row["journey__name"],
             "treated": {"entered": 0, "moved": 0}, "holdout": {"entered": 0, "moved": 0}},
        )  # fmt: skip
        side = item["holdout" if row["holdout"] else "treated"]
        side.update(entered=row["n"], moved=row["moved"])
    result = []
    for item in by_journey.values():
        for side in (item["treated"], item["holdout"]):
            side["rate"] = side["moved"] / side["entered"] if side["entered"] else None
        t, h = item["treated"]["rate"], item["holdout"]["rate"]
        item["difference"] = t - h if t is not None and h is not None else None
        result.append(item)
    return result


def inactive_reengagement_stored() -> list[dict] | None:
    """The same rows as stored by the hourly task for each journey (one query); None if none stored."""
    from reports.models import JourneySnapshot

    snapshots = list(JourneySnapshot.objects.order_by("journey__name").values_list("data", flat=True))
    if not snapshots:
        return None
    return [row for data in snapshots for row in data.get("inactive_reengagement", [])]
