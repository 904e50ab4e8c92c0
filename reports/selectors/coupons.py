"""Coupon pools report: assigned and redeemed over time, redemption rate, revenue, days to redemption."""

from __future__ import annotations

import datetime as dt
import statistics

from django.db import connection
from django.db.models import Count, F
from django.db.models.functions import Extract, TruncDate
from django.utils import timezone

from coupons.models import Coupon, CouponPool
from coupons.selectors import pools_with_stats
from reports.selectors.journey import _Median


def coupons_report(*, days: int = 90, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    pools = list(pools_with_stats(CouponPool.objects.order_by("name")))
    recent = Coupon.objects.filter(pool__in=[p.pk for p in pools])
    assigned = dict(
        recent.filter(assigned_at__gte=since)
        .annotate(day=TruncDate("assigned_at"))
        .order_by()
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    redeemed = dict(
        recent.filter(redeemed_at__gte=since)
        .annotate(day=TruncDate("redeemed_at"))
        .order_by()
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    first = timezone.localdate(since)
    day_list = [first + dt.timedelta(days=i) for i in range(days + 1)]
    medians = _days_to_redemption()
    rows = []
    for pool in pools:
        rows.append(
            {
                "pool": pool,
                "name": pool.name,
                "assigned": pool.assigned_codes,
                "redeemed": pool.redeemed_codes,
                "rate": pool.redeemed_codes / pool.assigned_codes if pool.assigned_codes else None,
                "revenue": pool.redeemed_revenue,
                "median_days": medians.get(pool.pk),
            }
        )
    return {
        "pools": rows,
        "over_time": {
            "days": [d.isoformat() for d in day_list],
            "assigned": [assigned.get(d, 0) for d in day_list],
            "redeemed": [redeemed.get(d, 0) for d in day_list],
        },
        "totals": {
            "assigned": sum(r["assigned"] for r in rows),
            "redeemed": sum(r["redeemed"] for r in rows),
            "revenue": sum((r["revenue"] for r in rows), start=0),
        },
    }


def _days_to_redemption() -> dict[int, float]:
    """Median days from assignment to redemption per pool (one query)."""
    redeemed = Coupon.objects.filter(assigned_at__isnull=False, redeemed_at__isnull=False).order_by()
    if connection.vendor == "postgresql":
        rows = redeemed.values("pool_id").annotate(
            m=_Median(Extract(F("redeemed_at") - F("assigned_at"), "epoch"))
        )
        return {r["pool_id"]: r["m"] / 86400 for r in rows}
    per_pool: dict[int, list[float]] = {}
    for pool_id, assigned, done in redeemed.values_list("pool_id", "assigned_at", "redeemed_at"):
        per_pool.setdefault(pool_id, []).append((done - assigned).total_seconds() / 86400)
    return {pool_id: statistics.median(values) for pool_id, values in per_pool.items()}


def coupons_tables(data: dict) -> dict[str, list[list]]:
    return {
        "pools": [
            ["pool", "assigned", "redeemed", "redemption_rate", "revenue", "median_days_to_redemption"],
            *(
                [r["name"], r["assigned"], r["redeemed"], r["rate"], r["revenue"], r["median_days"]]
                for r in data["pools"]
            ),
        ],
        "over_time": [
            ["day", "assigned", "redeemed"],
            *zip(
                data["over_time"]["days"],
                data["over_time"]["assigned"],
                data["over_time"]["redeemed"],
                strict=True,
            ),
        ],
    }
