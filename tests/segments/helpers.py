"""Small hand-built shops for the segments tests (bulk inserts, no per-row signals)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from contacts.models import Contact, Order

AS_OF = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
_order_numbers = itertools.count(1)


def contact(**fields) -> Contact:
    number = next(_order_numbers)
    fields.setdefault("email", f"c{number}@example.com")
    return Contact.objects.create(**fields)


def orders(contact: Contact, *purchases: tuple[int, float] | tuple[int, float, str]) -> list[Order]:
    """Orders given as (days before AS_OF, total[, status])."""
    rows = []
    for purchase in purchases:
        days, total = purchase[0], purchase[1]
        status = purchase[2] if len(purchase) > 2 else Order.Status.PAID
        rows.append(
            Order(
                external_id=f"o{next(_order_numbers)}",
                contact=contact,
                placed_at=AS_OF - dt.timedelta(days=days),
                total=Decimal(str(total)),
                status=status,
            )
        )
    return Order.objects.bulk_create(rows)
