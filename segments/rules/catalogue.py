"""What a segment builder renders: the fields, their operators and value widgets, and the choices.

`rule_catalogue()` is static (no queries): one dict per field, in display order,

    {"key": "rfm_segment", "label": "RFM segment", "group": "Scores", "type": "choice",
     "choices": "rfm_segments", "params": [], "hint": "", "example": {...},
     "operators": [{"key": "in", "label": "is any of", "value": "list"}, ...]}

`type` picks the value widget: text, choice (multi-select for "list" operators), bool, date (a date
"YYYY-MM-DD" or {"days_ago": N}; a number of days for "days" operators), number, count (whole number),
amount (money), list (multi-select of `choices`), attribute (a "key" picker plus a text/number value),
history (an "attribute" picker: segment/stage/cluster), days (a number of days), id (one object of
`choices`), none (no value; the operator says it all). An operator's `value` is its shape: none, one, list,
range ([low, high] or [from, to]) or days. `params` are extra keys of the condition (e.g. "period").

`rule_choices(source, search=..., limit=...)` answers a `choices` source with [{"value", "label"}]; it
reads the database only for data-driven sources (tags, attribute keys, products, segments, ...), with
one bounded query each.
"""

from __future__ import annotations

from typing import Any

from segments.rules.examples import EXAMPLES
from segments.rules.fields import FIELDS
from segments.rules.operators import OPERATORS

# Fields whose "in"/"eq" operators take ONE id rather than a list.
_ONE_VALUE_TYPES = {"id"}


def rule_catalogue() -> list[dict[str, Any]]:
    """Every rule field with its label, group, value type, choices source, operators and an example."""
    catalogue = []
    for spec in FIELDS.values():
        operators = []
        for op in spec.operators:
            label, shape = OPERATORS[op]
            if spec.value_type in _ONE_VALUE_TYPES and shape == "list":
                shape = "one"
            if spec.value_type == "none":
                shape = "none"
            operators.append({"key": op, "label": label, "value": shape})
        catalogue.append(
            {
                "key": spec.name,
                "label": spec.label,
                "group": spec.group,
                "type": spec.value_type,
                "choices": spec.choices,
                "params": list(spec.params),
                "hint": spec.hint,
                "example": EXAMPLES.get(spec.name),
                "operators": operators,
            }
        )
    return catalogue


CHOICE_SOURCES = (
    "contact_statuses",
    "channels",
    "rfm_segments",
    "lifecycle_stages",
    "value_clusters",
    "score_attributes",
    "event_kinds",
    "tags",
    "attribute_keys",
    "products",
    "categories",
    "brands",
    "segments",
    "coupon_pools",
    "journeys",
)


def _pairs(values: list[str] | list[tuple[Any, str]]) -> list[dict[str, Any]]:
    return [
        {"value": v[0], "label": v[1]} if isinstance(v, tuple) else {"value": v, "label": v} for v in values
    ]


def rule_choices(source: str, *, search: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """The choices of a catalogue source, filtered by `search` (case-insensitive), at most `limit`."""
    from contacts.models import Contact, Event, Product, Tag
    from segments.models import LifecycleStage, Segment, ValueCluster
    from segments.rules.contact_fields import _contact_statuses
    from segments.rules.score_fields import _rfm_segment_names

    static = {
        "contact_statuses": lambda: list(zip(_contact_statuses(), Contact.Status.labels, strict=True)),
        "channels": lambda: [("email", "Email"), ("sms", "SMS"), ("push", "Web push")],
        "rfm_segments": _rfm_segment_names,
        "lifecycle_stages": lambda: list(LifecycleStage.choices),
        "value_clusters": lambda: list(ValueCluster.choices),
        "score_attributes": lambda: [
            ("segment", "RFM segment"),
            ("stage", "Lifecycle stage"),
            ("cluster", "Value cluster"),
        ],
        "event_kinds": lambda: list(Event.Kind.choices),
    }
    needle = search.strip().lower()
    if source in static:
        pairs = _pairs(static[source]())
        return [p for p in pairs if needle in str(p["label"]).lower() or needle in str(p["value"]).lower()][
            :limit
        ]
    if source == "tags":
        return _pairs(
            list(
                Tag.objects.filter(name__icontains=needle)
                .order_by("name")
                .values_list("name", flat=True)[:limit]
            )
        )
    if source == "attribute_keys":
        # Keys of the most recently added contacts' attributes: a bounded sample, not a scan of 1M rows.
        keys: set[str] = set()
        for attributes in Contact.objects.order_by("-pk").values_list("attributes", flat=True)[:2000]:
            if isinstance(attributes, dict):
                keys.update(k for k in attributes if needle in k.lower())
        return _pairs(sorted(keys)[:limit])
    if source == "products":
        rows = Product.objects.filter(sku__icontains=needle) | Product.objects.filter(name__icontains=needle)
        return _pairs(
            [
                (sku, f"{sku} - {name}")
                for sku, name in rows.order_by("sku").values_list("sku", "name")[:limit]
            ]
        )
    if source in ("categories", "brands"):
        column = {"categories": "category", "brands": "brand"}[source]
        values = (
            Product.objects.exclude(**{column: ""})
            .filter(**{f"{column}__icontains": needle})
            .order_by(column)
            .values_list(column, flat=True)
            .distinct()[:limit]
        )
        return _pairs(list(values))
    if source == "segments":
        return _pairs(
            list(
                Segment.objects.filter(name__icontains=needle)
                .order_by("name")
                .values_list("pk", "name")[:limit]
            )
        )
    if source == "coupon_pools":
        from coupons.models import CouponPool

        return _pairs(
            list(
                CouponPool.objects.filter(name__icontains=needle)
                .order_by("name")
                .values_list("pk", "name")[:limit]
            )
        )
    if source == "journeys":
        from journeys.models import Journey

        return _pairs(
            list(
                Journey.objects.filter(name__icontains=needle)
                .order_by("name")
                .values_list("pk", "name")[:limit]
            )
        )
    raise ValueError(f"unknown choices source {source!r}; use one of {', '.join(CHOICE_SOURCES)}")
