"""Per-pool code counters, so the pool list never reads the codes of its pools.

Every service that changes what a pool's codes are appends a PoolCounterDelta row in the same
transaction (generation/import: codes; assignment: assigned; redemption: redeemed, revenue,
expired). Appending instead of updating the pool row keeps concurrent workers from queueing on
it. pool_counters_fold() (periodic) adds the deltas to the pool row and deletes them.

"Expired" (given out, not redeemed, past expires_at) changes with time, not with writes: the fold
counts the codes that expired since `expired_counted_until` (an index range) into codes_expired
and moves the mark; readers add the few that expired since (selectors.pools_with_stats). The mark
trails the clock by FOLD_MARGIN so a slow transaction's assignment is still counted. Redeeming or
releasing a code whose expiry was already folded adjusts `expired`; redemption and fold lock the
pool row (FOR NO KEY UPDATE, which does not block assignment inserts) so they see each other.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.timezone import now

from coupons.models import Coupon, CouponPool, PoolCounterDelta

FOLD_MARGIN = timedelta(minutes=15)
FIELDS = ("codes", "assigned", "redeemed", "redeemed_unassigned", "expired", "revenue")
POOL_FIELDS = {
    "codes": "codes_total",
    "assigned": "codes_assigned",
    "redeemed": "codes_redeemed",
    "redeemed_unassigned": "codes_redeemed_unassigned",
    "expired": "codes_expired",
    "revenue": "revenue_redeemed",
}


def pool_counters_add(*, changes: dict[int, dict[str, int | Decimal]]) -> None:
    """Append {pool_id: {field: change}} (call inside the transaction that made the change)."""
    rows = [
        PoolCounterDelta(pool_id=pool_id, **{k: v for k, v in fields.items() if v})
        for pool_id, fields in changes.items()
        if any(fields.values())
    ]
    if rows:
        PoolCounterDelta.objects.bulk_create(rows)


def pool_expiry_marks_lock(*, pool_ids: list[int]) -> dict[int, datetime]:
    """Lock the pools' rows against a concurrent fold; their expired_counted_until marks."""
    pools = CouponPool.objects.select_for_update(no_key=True).filter(pk__in=pool_ids).order_by("pk")
    return dict(pools.values_list("pk", "expired_counted_until"))


def pool_counters_fold(*, at: datetime | None = None, pool_ids: list[int] | None = None) -> int:
    """Move pending deltas and newly expired codes into the pools' counters. Returns pools changed."""
    upto = (at or now()) - FOLD_MARGIN
    if pool_ids is None:
        pool_ids = list(CouponPool.objects.order_by("pk").values_list("pk", flat=True))
    changed = 0
    for pool_id in pool_ids:
        with transaction.atomic():
            marks = pool_expiry_marks_lock(pool_ids=[pool_id])
            if pool_id not in marks:
                continue
            since = marks[pool_id]
            deltas = list(PoolCounterDelta.objects.filter(pool_id=pool_id).values("pk", *FIELDS))
            sums: dict[str, int | Decimal] = defaultdict(int)
            for delta in deltas:
                for name in FIELDS:
                    sums[name] += delta[name]
            if upto > since:
                sums["expired"] += Coupon.objects.filter(
                    pool_id=pool_id,
                    assigned_at__isnull=False,
                    redeemed_at__isnull=True,
                    expires_at__gte=since,
                    expires_at__lt=upto,
                ).count()
            elif not deltas:
                continue
            CouponPool.objects.filter(pk=pool_id).update(
                expired_counted_until=max(since, upto),
                **{POOL_FIELDS[name]: F(POOL_FIELDS[name]) + value for name, value in sums.items() if value},
            )
            PoolCounterDelta.objects.filter(pk__in=[delta["pk"] for delta in deltas]).delete()
            changed += 1
    return changed
