"""Journey report by entry day: the hourly task stores, per journey x version x entry day, the grouped
counts the journey report is made of, so a report filtered by version or entry dates sums a few hundred
small rows instead of scanning every enrollment, step run and message.

Every count is keyed by enrollment (one entry day, one version each), so the sum over days equals the
live count over the same enrollments; the median time to purchase keeps each day's exact durations.
`journey_days_refresh` writes (hourly); `journey_results_from_days` reads. `manage.py journey_report` and
"Count now" never use these rows: they count live.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, DateField, Exists, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from contacts.models import Order
from journeys.models import Conversion, Edge, Enrollment, Journey, Step, StepRun
from messaging.models import Message
from reports.models import JourneyDay
from reports.selectors.history import value_at
from reports.selectors.journey import (
    MONEY,
    REACTIVATION_STAGES,
    ReportFilter,
    _assemble,
    _ordered_steps,
)

Key = tuple[int, str]  # (version id, ISO day)


def _blank() -> dict:
    return {"groups": [], "placement": [], "reached": {}, "messages": [], "reactivation": [], "durations": []}


def _day_rows(journey: Journey) -> dict[Key, dict]:
    """Six grouped queries over the journey's enrollments, each also grouped by version and entry day."""
    days: dict[Key, dict] = defaultdict(_blank)
    enrollments = Enrollment.objects.filter(journey=journey).order_by().annotate(day=TruncDate("entered_at"))

    def key(row: dict, version: str = "version_id", day: str = "day") -> dict:
        return days[(row.pop(version), row.pop(day).isoformat())]

    revenue = F("conversions__revenue")
    for row in enrollments.values("version_id", "day", "holdout", "variant").annotate(
        n=Count("id"),
        converted=Count("conversions__id"),
        revenue=Sum(revenue, output_field=MONEY),
        squares=Sum(revenue * revenue, output_field=MONEY),
    ):
        row["revenue"], row["squares"] = str(row["revenue"] or 0), str(row["squares"] or 0)
        key(row)["groups"].append(row)
    for row in enrollments.values("version_id", "day", "state", "exit_reason", "step__key").annotate(
        n=Count("id")
    ):
        key(row)["placement"].append(row)

    runs = (
        StepRun.objects.filter(journey_id=journey.pk)
        .order_by()
        .annotate(day=TruncDate("enrollment__entered_at"))
        .values("enrollment__version_id", "day", "step__key")
        .annotate(n=Count("enrollment_id", distinct=True))
    )
    for row in runs:
        key(row, "enrollment__version_id")["reached"][row["step__key"]] = row["n"]

    # Message.enrollment_id is a plain column (no relation to join along): look the entry up per message.
    entry = Enrollment.objects.filter(pk=OuterRef("enrollment_id"))
    messages = (
        Message.objects.filter(journey_id=journey.pk, enrollment_id__isnull=False)
        .order_by()
        .annotate(
            entry_version=Subquery(entry.values("version_id")[:1]),
            day=Subquery(
                entry.annotate(day=TruncDate("entered_at")).values("day")[:1], output_field=DateField()
            ),
        )
        .values("entry_version", "day", "step_id", "channel", "status")
        .annotate(
            n=Count("id"),
            opened=Count("opened_at"),
            clicked=Count("clicked_at"),
            unsubscribed=Count("unsubscribed_at"),
        )
    )
    for row in messages:
        key(row, "entry_version")["messages"].append(row)

    stage_at_entry = value_at(
        field="stage", current="contact__score__lifecycle_stage", moment=OuterRef("entered_at")
    )
    bought_after = Exists(
        Order.objects.filter(
            contact_id=OuterRef("contact_id"), placed_at__gte=OuterRef("entered_at")
        ).exclude(status__in=Order.NOT_PURCHASES)
    )
    reactivation = (
        enrollments.annotate(stage_at_entry=stage_at_entry, bought_after=bought_after)
        .filter(stage_at_entry__in=REACTIVATION_STAGES)
        .values("version_id", "day", "holdout")
        .annotate(n=Count("id"), bought=Count("id", filter=Q(bought_after=True)))
    )
    for row in reactivation:
        key(row)["reactivation"].append(row)

    conversions = Conversion.objects.filter(enrollment__journey=journey).values_list(
        "enrollment__version_id", "enrollment__entered_at", "converted_at"
    )
    for version_id, entered_at, converted_at in conversions:
        day = timezone.localdate(entered_at).isoformat()
        days[(version_id, day)]["durations"].append((converted_at - entered_at).total_seconds())
    return days


@transaction.atomic
def journey_days_refresh(journey: Journey) -> int:
    """Replace the journey's per-day rows. Returns how many."""
    days = _day_rows(journey)
    JourneyDay.objects.filter(journey=journey).delete()
    JourneyDay.objects.bulk_create(
        JourneyDay(journey=journey, version_id=version_id, day=dt.date.fromisoformat(day), data=data)
        for (version_id, day), data in days.items()
    )
    return len(days)


def journey_results_from_days(*, journey: Journey, filters: ReportFilter) -> dict:
    """The journey report for these filters from the stored day rows (four queries: steps, edges, the
    day rows, the message steps' keys)."""
    shown_version = filters.version or journey.current_version
    steps = list(
        Step.objects.filter(journey=journey, version=shown_version).values("id", "key", "kind", "name")
    )
    edges = list(
        Edge.objects.filter(journey=journey, version=shown_version).values_list("from_step_id", "to_step_id")
    )
    rows = JourneyDay.objects.filter(journey=journey)
    if filters.version is not None:
        rows = rows.filter(version=filters.version)
    if filters.entered_from:
        rows = rows.filter(day__gte=filters.entered_from)
    if filters.entered_to:
        rows = rows.filter(day__lte=filters.entered_to)

    groups: dict[tuple, dict] = {}
    placement: dict[tuple, int] = defaultdict(int)
    reached: dict[str, int] = defaultdict(int)
    messages: dict[tuple, dict] = {}
    reactivation: dict[bool, dict] = {}
    durations: list[float] = []
    for data in rows.values_list("data", flat=True):
        for g in data["groups"]:
            acc = groups.setdefault(
                (g["holdout"], g["variant"]),
                {"holdout": g["holdout"], "variant": g["variant"], "n": 0, "converted": 0,
                 "revenue": Decimal(0), "squares": Decimal(0)},
            )  # fmt: skip
            acc["n"] += g["n"]
            acc["converted"] += g["converted"]
            acc["revenue"] += Decimal(g["revenue"])
            acc["squares"] += Decimal(g["squares"])
        for p in data["placement"]:
            placement[(p["state"], p["exit_reason"], p["step__key"])] += p["n"]
        for step_key, n in data["reached"].items():
            reached[step_key] += n
        for m in data["messages"]:
            acc = messages.setdefault(
                (m["step_id"], m["channel"], m["status"]),
                {"step_id": m["step_id"], "channel": m["channel"], "status": m["status"],
                 "n": 0, "opened": 0, "clicked": 0, "unsubscribed": 0},
            )  # fmt: skip
            for name in ("n", "opened", "clicked", "unsubscribed"):
                acc[name] += m[name]
        for r in data["reactivation"]:
            acc = reactivation.setdefault(r["holdout"], {"holdout": r["holdout"], "n": 0, "bought": 0})
            acc["n"] += r["n"]
            acc["bought"] += r["bought"]
        durations.extend(data["durations"])

    message_step_ids = {key[0] for key in messages}
    step_keys = (
        dict(Step.objects.filter(id__in=message_step_ids).values_list("id", "key"))
        if message_step_ids
        else {}
    )
    return _assemble(
        journey=journey,
        filters=filters,
        shown_version=shown_version,
        steps=_ordered_steps(steps, edges),
        groups=sorted(groups.values(), key=lambda g: (g["holdout"], g["variant"])),
        placement=[
            {"state": s, "exit_reason": e, "step__key": k, "n": n} for (s, e, k), n in placement.items()
        ],
        reached=dict(reached),
        message_rows=list(messages.values()),
        step_keys=step_keys,
        reactivation_rows=reactivation,
        median_days=statistics.median(durations) / 86400 if durations else None,
    )
