"""Linking the shop's orders to the codes they used."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from contacts.models import Order
from coupons.models import Coupon
from coupons.services.codes import normalize_code
from coupons.services.counters import pool_counters_add, pool_expiry_marks_lock

BATCH_SIZE = 2000
FIELDS = ["order", "redeemed_at", "redeemed_revenue", "redemption"]
ORDER_FIELDS = ("pk", "contact_id", "coupon_code", "placed_at", "total", "status")
RELEASED = (None, None, None, "")


def coupon_redemptions_record(*, order_ids: list[int]) -> int:
    """Link orders whose coupon code matches one of our codes. Returns the number of codes changed.

    Set-based per batch of orders: one query for the orders, one for the codes they name or are
    linked to, one bulk update (plus one lookup when a redemption is released). Codes are compared
    trimmed and case-insensitively. The earliest order (placed_at, then id) that used a code redeems
    it, whatever order the orders arrive in; re-recording the same order is idempotent and takes
    its current total. Redemptions are classified: by its contact in time (valid), after expiry, of
    a code never assigned, or by another contact than the one it was given to. A linked order that
    is later cancelled or refunded, or whose coupon code was corrected, releases the code, which
    passes to the next order that used it, if any.
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


def _prepare(order: dict) -> dict:
    order["code"] = normalize_code(order["coupon_code"])
    order["uses_code"] = bool(order["code"]) and order["status"] not in Order.NOT_PURCHASES
    return order


def _earliest_per_code(orders) -> dict[str, dict]:
    first: dict[str, dict] = {}
    for order in sorted(orders, key=lambda o: (o["placed_at"], o["pk"])):
        if order["uses_code"]:
            first.setdefault(order["code"], order)
    return first


def _values(coupon: Coupon) -> tuple:
    return (coupon.order_id, coupon.redeemed_at, coupon.redeemed_revenue, coupon.redemption)


def _set(coupon: Coupon, values: tuple) -> None:
    coupon.order_id, coupon.redeemed_at, coupon.redeemed_revenue, coupon.redemption = values


def _link_values(coupon: Coupon, order: dict) -> tuple:
    return (order["pk"], order["placed_at"], order["total"], _redemption_status(coupon, order))


def _record_batch(order_ids: list[int]) -> int:
    orders = {o["pk"]: _prepare(o) for o in Order.objects.filter(pk__in=order_ids).values(*ORDER_FIELDS)}
    if not orders:
        return 0
    candidates = _earliest_per_code(orders.values())
    with transaction.atomic():
        # Codes the batch names, and codes currently linked to one of its orders (to release them).
        wanted = Coupon.objects.filter(order_id__in=list(orders))
        if candidates:
            wanted |= Coupon.objects.filter(code__in=list(candidates))
        coupons = list(wanted.select_for_update().order_by("pk"))
        before = {coupon.pk: _values(coupon) for coupon in coupons}
        released: list[Coupon] = []
        for coupon in coupons:
            linked = orders.get(coupon.order_id)
            if linked is not None and not (linked["uses_code"] and linked["code"] == coupon.code):
                _set(coupon, RELEASED)  # refunded, cancelled, or the order names another code now
            order = candidates.get(coupon.code)
            if order is not None and (
                coupon.order_id in (None, order["pk"])
                or (order["placed_at"], order["pk"]) < (coupon.redeemed_at, coupon.order_id)
            ):
                _set(coupon, _link_values(coupon, order))  # unused, ours, or an earlier order
            if coupon.order_id is None and before[coupon.pk][0] is not None:
                released.append(coupon)
        if released:
            _pass_on(released, exclude=set(orders))
        changed = [coupon for coupon in coupons if _values(coupon) != before[coupon.pk]]
        Coupon.objects.bulk_update(changed, FIELDS, batch_size=500)
        if changed:
            _count(changed, before)
    return len(changed)


def _count(changed: list[Coupon], before: dict[int, tuple]) -> None:
    """Counter changes of the batch (see coupons/services/counters.py), same transaction."""
    marks = pool_expiry_marks_lock(pool_ids=sorted({coupon.pool_id for coupon in changed}))
    changes: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    for coupon in changed:
        old_order, old_at, old_revenue, _old_kind = before[coupon.pk]
        pool = changes[coupon.pool_id]
        pool["revenue"] += (coupon.redeemed_revenue or 0) - (old_revenue or 0)
        if (old_at is None) == (coupon.redeemed_at is None):
            continue
        step = 1 if coupon.redeemed_at is not None else -1
        pool["redeemed"] += step
        if coupon.assigned_at is None:
            pool["redeemed_unassigned"] += step
        elif coupon.expires_at is not None and coupon.expires_at < marks[coupon.pool_id]:
            pool["expired"] -= step  # its expiry was already counted by a fold
    pool_counters_add(changes=changes)


def _pass_on(released: list[Coupon], *, exclude: set[int]) -> None:
    """Give released codes to the earliest other order that used them (one indexed lookup).

    Orders store the code as the shop sent it; the lookup finds it upper- or lower-case (the
    coupon_code index is exact), other spellings are linked when their order is recorded again.
    """
    spellings = {spelling for c in released for spelling in (c.code, c.code.lower())}
    others = (
        Order.objects.filter(coupon_code__in=spellings)
        .exclude(status__in=Order.NOT_PURCHASES)
        .exclude(pk__in=exclude)
        .values(*ORDER_FIELDS)
    )
    following = _earliest_per_code(_prepare(o) for o in others)
    for coupon in released:
        order = following.get(coupon.code)
        if order is not None:
            _set(coupon, _link_values(coupon, order))
