"""The home dashboard (admin index): a fixed handful of queries, heavy counts read from rollups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from coupons.models import CouponPool
from coupons.selectors import pools_with_stats
from journeys.models import Conversion, Journey
from reports.models import DailyCount
from segments.models import LifecycleStage, ScoreChange

MESSAGE_KEYS = ("sent", "delivered", "opened", "clicked", "bounced")
REACTIVATED_FROM = ("defecting", "lost")
REACTIVATED_TO = ("active", "new")


def _latest_snapshot(metrics: list[str]) -> tuple[dt.date | None, dict[str, dict[str, DailyCount]]]:
    """The newest rollup day's rows of these snapshot metrics (two queries)."""
    latest = (
        DailyCount.objects.filter(metric__in=metrics).order_by("-day").values_list("day", flat=True).first()
    )
    found: dict[str, dict[str, DailyCount]] = {m: {} for m in metrics}
    if latest is None:
        return None, found
    for row in DailyCount.objects.filter(metric__in=metrics, day=latest):
        found[row.metric][row.key] = row
    return latest, found


def dashboard(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    today = timezone.localdate(now)
    snapshot_day, snapshot = _latest_snapshot(["stage", "segment", "at_risk"])
    stage_labels = dict(LifecycleStage.choices)
    stages = [
        {
            "key": key,
            "label": label,
            "contacts": snapshot["stage"][key].value if key in snapshot["stage"] else 0,
        }
        for key, label in stage_labels.items()
    ]
    segments = sorted(
        ({"label": key or "(not scored)", "contacts": row.value} for key, row in snapshot["segment"].items()),
        key=lambda r: -r["contacts"],
    )
    at_risk = snapshot["at_risk"].get("")

    # Messages by day, last 30 days, from the rollup.
    first_day = today - dt.timedelta(days=29)
    by_day = {
        (row.day, row.key): row.value
        for row in DailyCount.objects.filter(metric="messages", day__gte=first_day, day__lte=today)
    }
    days = [first_day + dt.timedelta(days=i) for i in range(30)]
    messages = {
        "days": [d.isoformat() for d in days],
        "series": {key: [by_day.get((d, key), 0) for d in days] for key in MESSAGE_KEYS},
    }
    messages["totals"] = {key: sum(values) for key, values in messages["series"].items()}

    # Active journeys, last 7 days: entered and messaged from the hourly rollup (per journey and day),
    # conversions live (few rows, on indexed columns).
    week_ago = now - dt.timedelta(days=7)
    journeys = list(
        Journey.objects.filter(status=Journey.Status.ACTIVE).order_by("name").values("id", "name")[:20]
    )
    ids = [j["id"] for j in journeys]
    entered: dict[int, int] = {}
    messaged: dict[int, int] = {}
    for metric, key, value in DailyCount.objects.filter(
        metric__in=["journey_entered", "journey_messaged"],
        key__in=[str(i) for i in ids],
        day__gt=today - dt.timedelta(days=7),
        day__lte=today,
    ).values_list("metric", "key", "value"):
        counts = entered if metric == "journey_entered" else messaged
        counts[int(key)] = counts.get(int(key), 0) + value
    converted = {
        row["journey_id"]: row
        for row in Conversion.objects.filter(journey_id__in=ids, converted_at__gte=week_ago)
        .order_by()
        .values("journey_id")
        .annotate(n=Count("id"), revenue=Sum("revenue"))
    }
    for j in journeys:
        conv = converted.get(j["id"], {})
        j.update(
            entered=entered.get(j["id"], 0),
            messaged=messaged.get(j["id"], 0),
            converted=conv.get("n", 0),
            revenue=conv.get("revenue") or Decimal(0),
        )

    pools = pools_with_stats(CouponPool.objects.all()).aggregate(
        assigned=Sum("assigned_codes"), redeemed=Sum("redeemed_codes"), revenue=Sum("redeemed_revenue")
    )

    month_start = timezone.make_aware(dt.datetime.combine(today.replace(day=1), dt.time.min))
    reactivated = (
        ScoreChange.objects.filter(
            field="stage", old__in=REACTIVATED_FROM, new__in=REACTIVATED_TO, changed_at__gte=month_start
        )
        .values("contact_id")
        .distinct()
        .count()
    )
    return {
        "snapshot_day": snapshot_day,
        "stages": stages,
        "segments": segments,
        "contacts_scored": sum(s["contacts"] for s in stages),
        "at_risk_contacts": at_risk.value if at_risk else 0,
        "at_risk_revenue": at_risk.amount if at_risk else Decimal(0),
        "messages": messages,
        "journeys": journeys,
        "coupons": {
            "assigned": pools["assigned"] or 0,
            "redeemed": pools["redeemed"] or 0,
            "revenue": pools["revenue"] or Decimal(0),
            "rate": (pools["redeemed"] or 0) / pools["assigned"] if pools["assigned"] else None,
        },
        "reactivated_this_month": reactivated,
        "month_start": month_start,
    }


def dashboard_tables(data: dict) -> dict[str, list[list]]:
    return {
        "stages": [["stage", "contacts"], *([s["label"], s["contacts"]] for s in data["stages"])],
        "segments": [["rfm_segment", "contacts"], *([s["label"], s["contacts"]] for s in data["segments"])],
        "journeys": [
            ["journey", "entered_7d", "messaged_7d", "converted_7d", "revenue_7d"],
            *(
                [j["name"], j["entered"], j["messaged"], j["converted"], j["revenue"]]
                for j in data["journeys"]
            ),
        ],
        "messages": [
            ["day", *MESSAGE_KEYS],
            *(
                [day, *(data["messages"]["series"][k][i] for k in MESSAGE_KEYS)]
                for i, day in enumerate(data["messages"]["days"])
            ),
        ],
    }
