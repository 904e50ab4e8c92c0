"""Products, orders (with their lines) and events: batched upserts."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, Event, Order, OrderLine, Product
from contacts.services.bulk import rows_delete, rows_write, values_in
from contacts.services.contacts import BATCH_SIZE, _chunks, contacts_resolve
from contacts.services.results import RowError, RowErrors, UpsertResult
from contacts.signals import orders_upserted, signal_send_on_commit

PRODUCT_FIELDS = ("sku", "name", "category", "brand", "price", "url", "image_url")
ORDER_UPDATE_FIELDS = ("contact", "placed_at", "total", "currency", "coupon_code", "status")
LINE_FIELDS = ("product", "sku", "quantity", "unit_price")
ACTIVITY_KINDS = (Event.Kind.SITE_VISIT, Event.Kind.PRODUCT_VIEW, Event.Kind.CART_ADD)


@transaction.atomic
def products_upsert(*, rows: list[dict[str, Any]]) -> UpsertResult:
    """Create or update products by SKU. Keys missing from a row keep the stored value."""
    result = UpsertResult()
    for batch in _chunks(rows, BATCH_SIZE):
        merged: dict[str, dict] = {}
        for row in batch:
            merged[row["sku"]] = {
                **merged.get(row["sku"], {}),
                **{k: v for k, v in row.items() if v is not None},
            }
        existing = {
            values["sku"]: values
            for values in Product.objects.filter(sku__in=list(merged)).values("id", *PRODUCT_FIELDS)
        }
        objects = []
        for sku, row in merged.items():
            values = dict(existing.get(sku) or {"category": "", "brand": "", "url": "", "image_url": ""})
            values.update({k: row[k] for k in PRODUCT_FIELDS if row.get(k) is not None})
            if not values.get("name"):
                values["name"] = sku
            objects.append(Product(**values))
        Product.objects.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["sku"],
            update_fields=[f for f in PRODUCT_FIELDS if f != "sku"],
        )
        result.created += len(merged) - len(existing)
        result.updated += len(existing)
    return result


def _product_ids(lines: list[dict]) -> dict[str, int]:
    """SKU -> product id; SKUs not in the catalogue yet are added (name and price from the line)."""
    names = {}
    for line in lines:
        if line.get("sku"):
            names.setdefault(line["sku"], (line.get("product_name") or line["sku"], line.get("unit_price")))
    known = dict(values_in(model=Product, columns=("sku", "id"), where={"sku": list(names)}))
    new = [Product(sku=s, name=n[:255], price=p) for s, (n, p) in names.items() if s not in known]
    if new:
        Product.objects.bulk_create(new, ignore_conflicts=True)
        known = dict(values_in(model=Product, columns=("sku", "id"), where={"sku": list(names)}))
    return known


@transaction.atomic
def orders_upsert(
    *, orders: list[dict[str, Any]], source: str = Contact.ConsentSource.IMPORT
) -> UpsertResult:
    """Create or update orders by external id and replace their lines.

    Each order: order_id, customer_id and/or email (the contact is created if missing),
    placed_at, status, currency, coupon_code, total (None = sum of lines), lines: [{sku,
    product_name, quantity, unit_price}], `_row`. An order whose values and lines equal the stored
    ones is left alone. Sends `orders_upserted` after commit with the ids of orders created or
    changed (none for a re-import of the same file).
    """
    result = UpsertResult()
    for batch in _chunks(orders, BATCH_SIZE):
        result.add(_orders_batch(batch, source=source))
    if result.ids:
        order_ids = list(result.ids)
        signal_send_on_commit(orders_upserted, sender=Order, order_ids=order_ids)
    return result


def _lines_sorted(lines) -> list[tuple]:
    """(product id or None, sku, quantity, unit price) in a stable order, to compare stored and new lines."""
    return sorted(lines, key=lambda line: (line[0] or 0, *line[1:]))


def _orders_batch(orders: list[dict], *, source: str) -> UpsertResult:
    merged: dict[str, dict] = {}
    for order in orders:
        if order["order_id"] in merged:  # the same order twice: its lines add up
            earlier = merged[order["order_id"]]
            order = {**earlier, **{k: v for k, v in order.items() if v is not None}}
            order["lines"] = earlier["lines"] + order["lines"]
        merged[order["order_id"]] = order
    contact_ids = contacts_resolve(rows=list(merged.values()), source=source)
    product_ids = _product_ids([line for order in merged.values() for line in order["lines"]])
    stored = {
        values[0]: values[1:]
        for values in Order.objects.filter(external_id__in=list(merged)).values_list(
            "external_id",
            "id",
            *(f"{name}_id" if name == "contact" else name for name in ORDER_UPDATE_FIELDS),
        )
    }
    stored_lines: dict[int, list[tuple]] = defaultdict(list)
    for order_id, *line in (
        OrderLine.objects.filter(order_id__in=[values[0] for values in stored.values()])
        .order_by()
        .values_list("order_id", *LINE_FIELDS)
    ):
        stored_lines[order_id].append(tuple(line))
    errors = []
    rows = []
    lines: dict[str, list[tuple]] = {}
    now = timezone.now()
    for external_id, order in merged.items():
        total = order.get("total")
        if total is None:
            total = sum(
                (Decimal(line.get("quantity") or 1) * line["unit_price"] for line in order["lines"]),
                Decimal("0.00"),
            )
        key = (order.get("customer_id") or None, order.get("email") or None)
        if key not in contact_ids:
            errors.append(RowError(order.get("_row", 0), "email", "A customer id or an email is required."))
            continue
        row = {
            "external_id": external_id,
            "contact_id": contact_ids[key],
            "placed_at": order["placed_at"],
            "total": total,
            "currency": order.get("currency") or "EUR",
            "coupon_code": order.get("coupon_code") or "",
            "status": order.get("status") or Order.Status.PAID,
            "created_at": now,
        }
        order_lines = _lines_sorted(
            (
                product_ids.get(line.get("sku") or ""),
                line.get("sku") or "",
                line.get("quantity") or 1,
                line["unit_price"],
            )
            for line in order["lines"]
            if line.get("unit_price") is not None
        )
        if external_id in stored:
            pk, *values = stored[external_id]
            same = values == [
                row[f"{name}_id" if name == "contact" else name] for name in ORDER_UPDATE_FIELDS
            ]
            if same and _lines_sorted(stored_lines.get(pk, [])) == order_lines:
                continue  # unchanged: nothing written, no orders_upserted
        rows.append(row)
        lines[external_id] = order_lines
    if errors:
        raise RowErrors(errors)
    rows_write(
        model=Order,
        rows=rows,
        fields=(*ORDER_UPDATE_FIELDS, "external_id", "created_at"),
        conflict_fields=("external_id",),
        update_fields=ORDER_UPDATE_FIELDS,
    )
    order_pks = dict(
        values_in(model=Order, columns=("external_id", "id"), where={"external_id": list(lines)})
    )
    # Lines of new orders too: a concurrent request may have created the order meanwhile.
    rows_delete(model=OrderLine, field="order", values=[order_pks[x] for x in lines])
    rows_write(
        model=OrderLine,
        rows=[
            {
                "order_id": order_pks[external_id],
                **dict(zip(("product_id", *LINE_FIELDS[1:]), line, strict=True)),
            }
            for external_id, order_lines in lines.items()
            for line in order_lines
        ],
        fields=("order", *LINE_FIELDS),
    )
    return UpsertResult(
        created=len(merged) - len(stored), updated=len(stored), ids=[order_pks[x] for x in lines]
    )


@transaction.atomic
def events_record(*, events: list[dict[str, Any]], source: str = Contact.ConsentSource.API) -> UpsertResult:
    """Record events; an event with an external id already stored is skipped (idempotent).

    Each event: customer_id and/or email (contact created if missing), kind, occurred_at,
    external_id, message_id, properties. Site visits, product views and cart adds move the
    contact's last_activity_at forward.
    """
    result = UpsertResult()
    for batch in _chunks(events, BATCH_SIZE):
        external_ids = [e["external_id"] for e in batch if e.get("external_id")]
        known = set(Event.objects.filter(external_id__in=external_ids).values_list("external_id", flat=True))
        fresh = []
        seen: set[str] = set()
        for event in batch:
            external_id = event.get("external_id")
            if external_id and (external_id in known or external_id in seen):
                result.updated += 1
                continue
            if external_id:
                seen.add(external_id)
            fresh.append(event)
        # Contacts only for events that are recorded: a repeated event creates nothing.
        contact_ids = contacts_resolve(rows=fresh, source=source)
        objects = []
        for event in fresh:
            external_id = event.get("external_id")
            objects.append(
                Event(
                    contact_id=contact_ids[(event.get("customer_id") or None, event.get("email") or None)],
                    kind=event["kind"],
                    occurred_at=event.get("occurred_at") or timezone.now(),
                    external_id=external_id,
                    message_id=event.get("message_id"),
                    properties=event.get("properties") or {},
                )
            )
        Event.objects.bulk_create(objects, ignore_conflicts=True)
        result.created += len(objects)
        _last_activity_update(objects)
    return result


def _last_activity_update(events: list[Event]) -> None:
    latest: dict[int, datetime] = defaultdict(lambda: datetime.min.replace(tzinfo=UTC))
    for event in events:
        if event.kind in ACTIVITY_KINDS:
            latest[event.contact_id] = max(latest[event.contact_id], event.occurred_at)
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for contact_id, moment in latest.items():
        by_time[moment].append(contact_id)
    for moment, contact_ids in by_time.items():
        Contact.objects.filter(id__in=contact_ids).filter(
            Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=moment)
        ).update(last_activity_at=moment)
