"""CSV formats: each maps its column names to the canonical fields in contacts.importing.schema."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    # kind -> canonical field -> accepted column names (compared case-insensitively)
    columns: dict[str, dict[str, tuple[str, ...]]]
    # kind -> column name -> attribute name (stored in Contact.attributes)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    # columns starting with one of these go to attributes under the rest of the name
    attribute_prefixes: tuple[str, ...] = ()
    # kind -> column names only this format uses (for auto-detection)
    signature: dict[str, tuple[str, ...]] = field(default_factory=dict)


def formats() -> dict[str, Format]:
    from contacts.importing.formats import shopify, winback

    return {winback.FORMAT.name: winback.FORMAT, shopify.FORMAT.name: shopify.FORMAT}
