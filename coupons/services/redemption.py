"""Linking the shop's orders to the codes they used."""

from __future__ import annotations

from django.db import transaction

from contacts.models import Order
from coupons.models import Coupon
from coupons.services.codes import normalize_code

BATCH_SIZE = 2000
FIELDS = ["order", "redeemed_at", "redeemed_revenue", "redemption"]


def coupon_redemptions_record(*, order_ids: list[int]) -> int:
    """Link orders whose coupon code matches one of our codes. Returns the number of codes changed.

    Set-based per batch of orders: one query for the orders, one for the codes they name, one bulk
    update. The first order that uses a code redeems it; re-recording the same order is idempotent.
    Redemptions are classified: by its contact in time (valid), after expiry, of a code never
    assigned, or by another contact than the one it was given to. A linked order that is later
    cancelled or refunded releases the code's redemption.
    """
    ids = list(dict.fromkeys(order_ids))
    changed = 0
    for start in range(0, len(ids), BATCH_SIZE):
        changed += _record_batch(ids[start : start + BATCH_SIZE])
    return changed


def _redemption_status(coupon: Coupon, order: dict) -> str:
    if coupon.assigned_at is None:
        return Coupon.Redemption.UNASSIGNED
    if coupon.contact_id != order["contact_id"]:
        return Coupon.Redemption.WRONG_CONTACT
    if coupon.expires_at is not None and order["placed_at"] > coupon.expires_at:
        return Coupon.Redemption.EXPIRED
    return Coupon.Redemption.VALID


def _record_batch(order_ids: list[int]) -> int:
    orders = list(
        Order.objects.filter(pk__in=order_ids)
        .exclude(coupon_code="")
        .values("pk", "contact_id", "coupon_code", "placed_at", "total", "status")
    )
    if not orders:
        return 0
    # The earliest order per code wins within the batch.
    by_code: dict[str, dict] = {}
    for order in sorted(orders, key=lambda o: (o["placed_at"], o["pk"])):
        order["is_purchase"] = order["status"] not in Order.NOT_PURCHASES
        code = normalize_code(order["coupon_code"])
        current = by_code.get(code)
        if current is None or (order["is_purchase"] and not current["is_purchase"]):
            by_code[code] = order
    changed: list[Coupon] = []
    with transaction.atomic():
        for coupon in Coupon.objects.select_for_update().filter(code__in=list(by_code)):
            order = by_code[coupon.code]
            if coupon.order_id is not None and coupon.order_id != order["pk"]:
                continue  # already redeemed by an earlier order
            if not order["is_purchase"]:
                if coupon.order_id == order["pk"]:
                    coupon.order_id, coupon.redeemed_at, coupon.redeemed_revenue, coupon.redemption = (
                        None,
                        None,
                        None,
                        "",
                    )
                    changed.append(coupon)
                continue
            values = (order["pk"], order["placed_at"], order["total"], _redemption_status(coupon, order))
            if (coupon.order_id, coupon.redeemed_at, coupon.redeemed_revenue, coupon.redemption) != values:
                coupon.order_id, coupon.redeemed_at, coupon.redeemed_revenue, coupon.redemption = values
                changed.append(coupon)
        Coupon.objects.bulk_update(changed, FIELDS, batch_size=500)
    return len(changed)
