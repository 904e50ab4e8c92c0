"""Winback's own CSV format: column names are the field names (see README, section csv)."""

from contacts.importing.formats import Format
from contacts.importing.schema import FIELDS


def _same(kind: str, **aliases: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {name: (name, *aliases.get(name, ())) for name in FIELDS[kind] if name != "properties"}


FORMAT = Format(
    name="winback",
    label="Winback CSV",
    columns={
        "contacts": _same("contacts", external_id=("customer_id",)),
        "products": _same("products"),
        "orders": _same("orders", product_name=("name",)),
        "events": _same("events"),
    },
    attribute_prefixes=("attr.", "attributes."),
    signature={
        "contacts": ("external_id", "email_consent"),
        "products": ("sku", "category", "brand"),
        "orders": ("order_id", "unit_price", "placed_at"),
        "events": ("kind", "occurred_at"),
    },
)
