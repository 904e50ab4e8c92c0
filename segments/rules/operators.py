"""Operators: which ones each kind of field takes, their labels, and the comparison helper."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)

NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty")
TEXT_OPS = ("eq", "ne", "contains", "startswith", "in", "not_in", "is_empty", "is_not_empty")
CHOICE_OPS = ("in", "not_in", "eq", "ne")
DATE_OPS = (
    "since",
    "before",
    "within_last_days",
    "more_than_days_ago",
    "between",
    "is_empty",
    "is_not_empty",
)
COUNT_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")


def _compare(lhs: Any, op: str, value: Any) -> Q:
    lookups = {
        "eq": Exact,
        "gt": GreaterThan,
        "gte": GreaterThanOrEqual,
        "lt": LessThan,
        "lte": LessThanOrEqual,
    }
    if op == "ne":
        return ~Q(Exact(lhs, value))
    return Q(lookups[op](lhs, value))


# key -> (label a marketer reads, value shape). Shapes: "none" (no value), "one", "list" (one or more),
# "range" ([low, high] or [from, to]), "days" (a whole number of days).
OPERATORS: dict[str, tuple[str, str]] = {
    "eq": ("is", "one"),
    "ne": ("is not", "one"),
    "gt": ("more than", "one"),
    "gte": ("at least", "one"),
    "lt": ("less than", "one"),
    "lte": ("at most", "one"),
    "between": ("between", "range"),
    "is_empty": ("is empty", "none"),
    "is_not_empty": ("is not empty", "none"),
    "contains": ("contains", "one"),
    "startswith": ("starts with", "one"),
    "in": ("is any of", "list"),
    "not_in": ("is none of", "list"),
    "since": ("on or after", "one"),
    "before": ("before", "one"),
    "within_last_days": ("in the last N days", "days"),
    "not_within_last_days": ("not in the last N days", "days"),
    "more_than_days_ago": ("more than N days ago", "days"),
    "is": ("is", "one"),
    "is_not": ("is not", "one"),
    "has_any": ("has any of", "list"),
    "has_all": ("has all of", "list"),
    "has_none": ("has none of", "list"),
    "exists": ("is set", "none"),
    "not_exists": ("is not set", "none"),
    "changed": ("changed", "none"),
    "not_changed": ("did not change", "none"),
    "any": ("any of", "list"),
    "none": ("none of", "list"),
    "assigned": ("was assigned", "none"),
    "not_assigned": ("was not assigned", "none"),
    "redeemed": ("was redeemed", "none"),
    "not_redeemed": ("was not redeemed", "none"),
    "assigned_not_redeemed": ("assigned, not redeemed", "none"),
    "sent": ("was sent", "none"),
    "opened": ("was opened", "none"),
    "clicked": ("was clicked", "none"),
    "not_sent": ("was not sent", "none"),
    "not_opened": ("was not opened", "none"),
    "not_clicked": ("was not clicked", "none"),
    "enrolled": ("is enrolled in", "one"),
    "not_enrolled": ("is not enrolled in", "one"),
}
