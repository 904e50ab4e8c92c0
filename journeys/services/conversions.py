"""Conversion goal: a purchase within the attribution window after entry exits the contact and is
attributed to the journey (with the enrollment's variant and holdout flag, for lift reports).

Set-based: one SELECT joins the new orders with the enrollments they convert, one INSERT records
the conversions (one per enrollment, duplicates ignored) and one UPDATE exits the contacts in flight.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from journeys.models import Conversion, Enrollment


@transaction.atomic
def conversions_record(*, order_ids: list[int]) -> int:
    """Attribute these orders to the journeys their contacts are in. Returns conversions created.

    Rules: the order is a purchase (not cancelled/refunded) placed at or after entry and within the
    window; an enrollment converts once (its first such order); an order converts once per journey
    (for the contact's latest entry before it, when re-entries overlap). An order re-imported as
    cancelled/refunded loses its conversion (the contact stays exited)."""
    from contacts.models import Order

    if not order_ids:
        return 0
    Conversion.objects.filter(order_id__in=order_ids, order__status__in=Order.NOT_PURCHASES).delete()
    orders = Order.objects.filter(id__in=order_ids).exclude(status__in=Order.NOT_PURCHASES)
    rows = (
        Enrollment.objects.filter(
            journey__conversion_window_days__isnull=False,
            contact__orders__in=orders,
            contact__orders__placed_at__gte=F("entered_at"),
        )
        .exclude(state=Enrollment.State.FAILED)
        .exclude(conversions__isnull=False)
        .values_list(
            "id",
            "journey_id",
            "contact_id",
            "variant",
            "holdout",
            "entered_at",
            "journey__conversion_window_days",
            "contact__orders__id",
            "contact__orders__total",
            "contact__orders__placed_at",
        )
    )
    # (journey, order) pairs already attributed (an earlier run, another enrollment).
    taken = set(Conversion.objects.filter(order_id__in=order_ids).values_list("journey_id", "order_id"))
    # Per (journey, order): the latest entry before the order whose window is still open.
    best: dict[tuple[int, int], tuple] = {}
    for row in rows:
        _eid, journey_id, _cid, _variant, _holdout, entered, days, oid, _total, placed = row
        if placed > entered + timedelta(days=days) or (journey_id, oid) in taken:
            continue
        current = best.get((journey_id, oid))
        if current is None or entered > current[5]:
            best[(journey_id, oid)] = row
    # Per enrollment: its first order.
    conversions: dict[int, Conversion] = {}
    for row in sorted(best.values(), key=lambda r: (r[9], r[7])):
        enrollment_id, journey_id, contact_id, variant, holdout, _entered, _days, oid, total, placed = row
        if enrollment_id in conversions:
            continue
        conversions[enrollment_id] = Conversion(
            enrollment_id=enrollment_id,
            journey_id=journey_id,
            order_id=oid,
            contact_id=contact_id,
            revenue=total,
            variant=variant,
            holdout=holdout,
            converted_at=placed,
        )
    if not conversions:
        return 0
    Conversion.objects.bulk_create(list(conversions.values()), ignore_conflicts=True, batch_size=500)
    Enrollment.objects.filter(id__in=list(conversions), state__in=Enrollment.IN_FLIGHT).update(
        state=Enrollment.State.EXITED,
        exit_reason="converted",
        exited_at=timezone.now(),
        due_at=None,
        wait_reason="",
        # A batch advancing these contacts right now loses its claim and rolls back.
        claimed_by="",
        claimed_until=None,
    )
    return len(conversions)
