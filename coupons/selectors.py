"""Reads for screens and exports."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import (
    BigIntegerField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.timezone import now

from contacts.cells import spreadsheet_text
from coupons.models import Coupon, CouponPool, PoolCounterDelta

EXPORT_CHUNK = 5000


def pools_with_stats(queryset: QuerySet[CouponPool] | None = None, at=None) -> QuerySet[CouponPool]:
    """Pools annotated with their code counts, read from the counters the services keep.

    One query, no code rows read: the pool's counters plus its pending deltas (a small table),
    plus the codes that expired since the last fold (an index range, see services/counters.py).
    """
    at = at or now()
    queryset = queryset if queryset is not None else CouponPool.objects.all()
    money = DecimalField(max_digits=16, decimal_places=2)

    def pending(name: str, output=None):
        output = output or BigIntegerField()
        sums = (
            PoolCounterDelta.objects.filter(pool=OuterRef("pk"))
            .order_by()
            .values("pool")
            .annotate(total=Sum(name))
            .values("total")
        )
        return Coalesce(Subquery(sums, output_field=output), Value(0), output_field=output)

    expired_since_fold = (
        Coupon.objects.filter(
            pool=OuterRef("pk"),
            assigned_at__isnull=False,
            redeemed_at__isnull=True,
            expires_at__gte=OuterRef("expired_counted_until"),
            expires_at__lt=at,
        )
        .order_by()
        .values("pool")
        .annotate(n=Count("pk"))
        .values("n")
    )
    queryset = queryset.annotate(
        total_codes=F("codes_total") + pending("codes"),
        assigned_codes=F("codes_assigned") + pending("assigned"),
        redeemed_codes=F("codes_redeemed") + pending("redeemed"),
        redeemed_unassigned_codes=F("codes_redeemed_unassigned") + pending("redeemed_unassigned"),
        redeemed_revenue=ExpressionWrapper(
            F("revenue_redeemed") + pending("revenue", money), output_field=money
        ),
        expired_codes=F("codes_expired")
        + pending("expired")
        + Coalesce(Subquery(expired_since_fold, output_field=BigIntegerField()), Value(0)),
    )
    return queryset.annotate(
        available_codes=F("total_codes") - F("assigned_codes") - F("redeemed_unassigned_codes")
    )


def pools_with_counted_stats(queryset: QuerySet[CouponPool] | None = None, at=None) -> QuerySet[CouponPool]:
    """The same numbers counted from the codes themselves (slow on big pools): checks and repairs."""
    at = at or now()
    queryset = queryset if queryset is not None else CouponPool.objects.all()
    assigned = Q(coupons__assigned_at__isnull=False)
    redeemed = Q(coupons__redeemed_at__isnull=False)
    return queryset.annotate(
        total_codes=Count("coupons"),
        available_codes=Count("coupons", filter=Q(coupons__assigned_at__isnull=True) & ~redeemed),
        assigned_codes=Count("coupons", filter=assigned),
        redeemed_codes=Count("coupons", filter=redeemed),
        expired_codes=Count("coupons", filter=assigned & ~redeemed & Q(coupons__expires_at__lt=at)),
        redeemed_revenue=Coalesce(
            Sum("coupons__redeemed_revenue", filter=redeemed),
            Value(0),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        ),
    )


def pool_stats(*, pool: CouponPool) -> CouponPool:
    return pools_with_stats(CouponPool.objects.filter(pk=pool.pk)).get()


def stock_state(pool: CouponPool) -> str:
    """ "exhausted", "low" or "ok" for a pool annotated by pools_with_stats."""
    if pool.available_codes == 0:
        return "exhausted"
    if pool.available_codes <= pool.low_stock_threshold:
        return "low"
    return "ok"


def _safe(value) -> str:
    return spreadsheet_text(value)  # the one spreadsheet-safe cell function (contacts/cells.py)


def pool_codes_export_rows(*, pool: CouponPool, assigned: bool) -> Iterator[list[str]]:
    """CSV rows (header first) of a pool's unassigned or assigned codes, streamed in chunks."""
    if assigned:
        yield ["code", "expires_at", "assigned_at", "contact_external_id", "contact_email", "redemption"]
        rows = (
            Coupon.objects.filter(pool=pool, assigned_at__isnull=False)
            .order_by("pk")
            .values_list(
                "code", "expires_at", "assigned_at", "contact__external_id", "contact__email", "redemption"
            )
        )
    else:
        yield ["code", "expires_at"]
        rows = (
            Coupon.objects.filter(pool=pool, assigned_at__isnull=True, redeemed_at__isnull=True)
            .order_by("pk")
            .values_list("code", "expires_at")
        )
    for row in rows.iterator(chunk_size=EXPORT_CHUNK):
        values = list(row)
        if not assigned and pool.valid_until is not None:  # unassigned codes carry the pool's end date
            values[1] = pool.valid_until
        yield [_safe(v.isoformat() if hasattr(v, "isoformat") else v) for v in values]


def contact_coupons(*, contact_id: int) -> QuerySet[Coupon]:
    return (
        Coupon.objects.filter(contact_id=contact_id).select_related("pool", "order").order_by("-assigned_at")
    )


def contact_coupons_context(contact) -> dict:
    """Context for the contact story section (templates/coupons/_contact_story.html)."""
    return {"coupons": list(contact_coupons(contact_id=contact.pk)[:50])}
