"""Reads for screens and exports."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.timezone import now

from coupons.models import Coupon, CouponPool

EXPORT_CHUNK = 5000
# Cells starting with these characters are read as formulas by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def pools_with_stats(queryset: QuerySet[CouponPool] | None = None, at=None) -> QuerySet[CouponPool]:
    """Pools annotated with code counts: filtered aggregates over one join, so no row multiplication."""
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
            output_field=DecimalField(max_digits=14, decimal_places=2),
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
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


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
