"""The canonical fields of each import kind and how a raw value becomes a stored one.

Formats (winback, shopify) only map their column names to these fields; the API sends
these names directly. Everything goes through `row_clean`, so CSV and API validate alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from contacts.models import Contact, Event, Order
from contacts.services import normalise as n
from contacts.services.attributes import attributes_check
from contacts.services.results import RowError

KINDS = ("contacts", "products", "orders", "events")


def _text(limit: int) -> Callable[[Any], str | None]:
    def clean(value: Any) -> str | None:
        return n.text_normalise(value=value, max_length=limit) or None

    return clean


def _identifier(value: Any) -> str | None:
    """Ids as shops export them; Shopify prefixes numbers with ' so spreadsheets keep them as text."""
    return (
        n.text_normalise(value=str(value if value is not None else "").strip().lstrip("'"), max_length=100)
        or None
    )


FUTURE_TOLERANCE = timedelta(days=1)  # time zones and clocks that run a little ahead


def _past(value: Any) -> datetime | None:
    """A date that has happened: one in the future is a typo or swapped day and month."""
    moment = n.datetime_normalise(value=value)
    if moment is not None and moment > timezone.now() + FUTURE_TOLERANCE:
        raise ValueError(f"{str(value).strip()!r} is in the future.")
    return moment


URL_RE = re.compile(r"^https?://[^\s/]+\S*$", re.IGNORECASE)


def _url(value: Any) -> str | None:
    """Shop links end up in emails: only absolute http(s) addresses."""
    url = n.text_normalise(value=value, max_length=500)
    if url and not URL_RE.match(url):
        raise ValueError(f"{url[:60]!r} is not a web address (expected https://...).")
    return url or None


def _choice(choices: dict[str, str], what: str) -> Callable[[Any], str | None]:
    def clean(value: Any) -> str | None:
        raw = str(value or "").strip().lower()
        if not raw:
            return None
        if raw not in choices:
            raise ValueError(f"{raw!r} is not a known {what} ({', '.join(sorted(set(choices.values())))}).")
        return choices[raw]

    return clean


# "anonymized" is the outcome of a GDPR request (data blanked), not a status a file may set.
CONTACT_STATUSES = {s.value: s.value for s in Contact.Status if s != Contact.Status.ANONYMIZED} | {
    "subscribed": "active",
    "enabled": "active",
    "disabled": "active",
    "invited": "active",
    "declined": "active",
}
# Shopify's financial statuses map to ours; "partially refunded" still counts as a purchase.
ORDER_STATUSES = {s.value: s.value for s in Order.Status} | {
    "pending": "placed",
    "authorized": "placed",
    "partially_paid": "placed",
    "partially_refunded": "paid",
    "voided": "cancelled",
    "canceled": "cancelled",
    "expired": "cancelled",
    "completed": "paid",
    "shipped": "fulfilled",
}
EVENT_KINDS = {k.value: k.value for k in Event.Kind}

FIELDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "contacts": {
        "external_id": _identifier,
        "email": lambda v: n.email_normalise(value=v),
        "phone": lambda v: n.phone_normalise(value=v),
        "first_name": _text(100),
        "last_name": _text(100),
        "locale": _text(16),
        "country": lambda v: n.country_normalise(value=v) or None,
        "timezone": lambda v: n.timezone_normalise(value=v) or None,
        "signed_up_at": _past,
        "email_consent": lambda v: n.boolean_normalise(value=v),
        "sms_consent": lambda v: n.boolean_normalise(value=v),
        "push_consent": lambda v: n.boolean_normalise(value=v),
        "status": _choice(CONTACT_STATUSES, "status"),
        "tags": lambda v: n.tags_normalise(value=v) or None,
        "last_activity_at": _past,
    },
    "products": {
        "sku": _text(100),
        "name": _text(255),
        "category": _text(100),
        "brand": _text(100),
        "price": lambda v: n.amount_normalise(value=v),
        "url": _url,
        "image_url": _url,
    },
    "orders": {
        "order_id": _identifier,
        "customer_id": _identifier,
        "email": lambda v: n.email_normalise(value=v),
        "first_name": _text(100),
        "last_name": _text(100),
        "placed_at": _past,
        "status": _choice(ORDER_STATUSES, "order status"),
        "cancelled_at": _past,
        "fulfillment_status": _text(50),
        "currency": lambda v: n.text_normalise(value=v, max_length=3).upper() or None,
        "total": lambda v: n.amount_normalise(value=v),
        "coupon_code": _text(64),
        "sku": _text(100),
        "product_name": _text(255),
        "quantity": lambda v: n.integer_normalise(value=v, minimum=1),
        "unit_price": lambda v: n.amount_normalise(value=v),
    },
    "events": {
        "external_id": _identifier,
        "customer_id": _identifier,
        "email": lambda v: n.email_normalise(value=v),
        "kind": _choice(EVENT_KINDS, "event kind"),
        "occurred_at": _past,
        "message_id": lambda v: n.integer_normalise(value=v, maximum=n.BIGINT_MAX),
        "properties": lambda v: n.json_object_normalise(value=v),
    },
}

# JSON API: the types each field accepts (None always means "not given"); anything else is a row error.
TEXT, NUMBER = (str,), (str, int, float)
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "external_id": (str, int),
    "customer_id": (str, int),
    "order_id": (str, int),
    "phone": (str, int),
    "email_consent": (bool, str, int),
    "sms_consent": (bool, str, int),
    "push_consent": (bool, str, int),
    "tags": (list, str),
    "total": NUMBER,
    "unit_price": NUMBER,
    "price": NUMBER,
    "quantity": (int, str),
    "message_id": (int, str),
    "properties": (dict,),
}
TYPE_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "true/false", list: "a list",
              dict: "an object"}  # fmt: skip


def json_type_errors(*, record: dict[str, Any], row: int) -> list[RowError]:
    """Fields whose JSON type does not fit (e.g. an object where text belongs)."""
    errors = []
    for name, value in record.items():
        if value is None or name in ("lines", "attributes"):
            continue
        allowed = JSON_TYPES.get(name, TEXT)
        fits = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        if fits and isinstance(value, list):
            fits = all(isinstance(item, str) for item in value)
        if not fits:
            expected = " or ".join(TYPE_NAMES[t] for t in allowed)
            what = "a list of texts" if name == "tags" else expected
            errors.append(RowError(row, name, f"Expected {what}, got {type(value).__name__}."))
    return errors


# Each entry: alternatives, one of which must be a column (and, per row, have a value).
REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "contacts": [("external_id", "email")],
    "products": [("sku",), ("name",)],
    "orders": [("order_id",), ("placed_at",), ("customer_id", "email"), ("total", "unit_price")],
    "events": [("kind",), ("customer_id", "email")],
}
# Checked per order (order-level values may sit on the first line only, as in Shopify exports).
ROW_REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "contacts": [("external_id", "email")],
    "products": [("sku",), ("name",)],
    "orders": [("order_id",)],
    "events": [("kind",), ("customer_id", "email")],
}
CUSTOMER = ("customer_id", "email")
ORDER_REQUIRED = [("placed_at",), CUSTOMER]
ATTRIBUTE_MAX_LENGTH = 10_000
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")


def attribute_value(value: Any) -> Any:
    """Attribute cells: numbers become numbers (for segment rules), the rest stays text."""
    if not isinstance(value, str):
        attributes_check({"value": value})  # depth and size first: dumps of a hostile tree is costly
        if "\\u0000" in json.dumps(value, default=str):
            raise ValueError("Contains a NUL character (\\u0000).")
        return value
    raw = n.text_normalise(value=value, max_length=ATTRIBUTE_MAX_LENGTH)
    if NUMBER_RE.match(raw):
        return float(raw) if "." in raw else int(raw)
    return raw


MESSAGE_MAX = 300  # messages quote the bad value: a 100,000-character cell must not be echoed 1,000 times


def _message(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def row_clean(
    *, kind: str, raw: dict[str, Any], row: int, columns: dict[str, str]
) -> tuple[dict[str, Any], list[RowError]]:
    """Clean one row of canonical raw values. `columns` names each field's source column."""
    cleaned: dict[str, Any] = {"_row": row}
    errors: list[RowError] = []
    if raw.get("_structure"):
        return cleaned, [RowError(row, "", raw["_structure"])]
    fields = FIELDS[kind]
    for name, value in raw.items():
        if name == "attributes":
            attributes = {}
            for key, item in (value or {}).items():
                if item in ("", None):
                    continue
                try:
                    attributes[key] = attribute_value(item)
                except ValueError as exc:
                    errors.append(RowError(row, columns.get(f"attributes.{key}", key), _message(exc)))
            if attributes:
                try:
                    attributes_check(attributes)
                except ValueError as exc:
                    errors.append(RowError(row, columns.get("attributes", "attributes"), _message(exc)))
                cleaned["attributes"] = attributes
            continue
        cleaner = fields.get(name)
        if cleaner is None:
            continue
        try:
            cleaned[name] = cleaner(value)
        except ValueError as exc:
            errors.append(RowError(row, columns.get(name, name), _message(exc)))
    if not errors:
        for alternatives in ROW_REQUIRED[kind]:
            if all(cleaned.get(a) in (None, "") for a in alternatives):
                label = " or ".join(columns.get(a, a) for a in alternatives)
                errors.append(
                    RowError(row, columns.get(alternatives[0], alternatives[0]), f"{label} is required.")
                )
    return cleaned, errors


def order_finish(*, order: dict[str, Any], columns: dict[str, str]) -> list[RowError]:
    """Checks and derived values once all lines of one order are known."""
    errors = []
    row = order.get("_row", 0)
    for alternatives in ORDER_REQUIRED:
        if alternatives == CUSTOMER and all(order.get(a) in (None, "") for a in alternatives):
            given = [columns[a] for a in alternatives if a in columns] or list(alternatives)
            errors.append(
                RowError(
                    row,
                    given[0],
                    f"Order {order.get('order_id', '')} has no customer: {' or '.join(given)} is required. "
                    "Orders without one (e.g. point-of-sale sales in a Shopify export) cannot be linked "
                    "to a contact: fill in the email or remove the order's rows.",
                )
            )
        elif all(order.get(a) in (None, "") for a in alternatives):
            label = " or ".join(columns.get(a, a) for a in alternatives)
            errors.append(
                RowError(
                    row, columns.get(alternatives[0], alternatives[0]), f"{label} is required for the order."
                )
            )
    if order.get("total") is None and not any(line.get("unit_price") is not None for line in order["lines"]):
        errors.append(RowError(row, columns.get("total", "total"), "The order needs a total or line prices."))
    if order.get("cancelled_at"):
        order["status"] = Order.Status.CANCELLED
    elif (order.get("fulfillment_status") or "").lower() == "fulfilled" and order.get("status") in (
        None,
        Order.Status.PAID,
    ):
        order["status"] = Order.Status.FULFILLED
    return errors


ORDER_LEVEL = (
    "order_id",
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "placed_at",
    "status",
    "cancelled_at",
    "fulfillment_status",
    "currency",
    "total",
    "coupon_code",
)
LINE_LEVEL = ("sku", "product_name", "quantity", "unit_price", "_row")


def order_line_add(*, order: dict[str, Any] | None, row: dict[str, Any]) -> dict[str, Any]:
    """Fold one cleaned line row into its order (order-level values: first non-empty wins)."""
    if order is None:
        order = {"_row": row["_row"], "lines": []}
    for name in ORDER_LEVEL:
        if order.get(name) in (None, "") and row.get(name) not in (None, ""):
            order[name] = row[name]
    if any(row.get(name) is not None for name in ("sku", "product_name", "unit_price")):
        order["lines"].append({name: row.get(name) for name in LINE_LEVEL})
    return order
