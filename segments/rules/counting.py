"""Counting a rule's contacts with the cheapest query that gives the same number.

A tree that is one positive "has a child row" condition (a tag, an event in the last N days) matches
exactly the distinct contact ids of those child rows: every such row belongs to a contact (a non-null
foreign key). Counting them directly skips the semi join back to the contacts table (at 1M contacts the
join alone costs more than the count; docs/segments-speed.md). Every other tree is counted over contacts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from django.db.models import Count, QuerySet

from segments.rules.compiler import rules_compile
from segments.rules.contact_rows import ContactRows


class Countable(Protocol):
    def count(self) -> int: ...


class DistinctContactIds:
    """count(DISTINCT contact_id) of child rows: PostgreSQL sorts them inside one aggregate, where a
    SELECT DISTINCT subquery would hash them first and spill to disk at a few hundred thousand ids."""

    def __init__(self, rows: QuerySet) -> None:
        self.rows = rows

    def count(self) -> int:
        return self.rows.aggregate(n=Count("contact_id", distinct=True))["n"]


def rules_counted(tree: Any, *, now: dt.datetime | None = None, segment_id: int | None = None) -> Countable:
    """Something whose count() is the number of contacts matching `tree` in one query (raises RuleError
    like rules_compile)."""
    from contacts.models import Contact

    q = rules_compile(tree, now=now, segment_id=segment_id)
    if not q.negated and len(q.children) == 1 and isinstance(q.children[0], ContactRows):
        return DistinctContactIds(q.children[0].members)
    return Contact.objects.filter(q)
