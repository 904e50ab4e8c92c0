"""A contact's scores at a past moment, from ScoreChange history (written only when a value changes)."""

from __future__ import annotations

from django.db.models import CharField, F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from segments.models import ScoreChange


def value_at(*, field: str, current: str, moment, contact_ref: str = "contact_id") -> Coalesce:
    """Expression: the value of a score `field` ("stage", "segment", "cluster") at `moment` (an OuterRef
    or a datetime) for the outer row's contact. Changes are recorded only when a value changes, so the
    value at a moment is the old value of the first change after it, or, with no change since, the
    current value: `current` is the path from the outer row to the ContactScore column, e.g.
    "contact__score__lifecycle_stage" (a LEFT JOIN). Usually one index lookup per row (COALESCE stops
    at the first value that is not NULL)."""
    changes = ScoreChange.objects.filter(contact_id=OuterRef(contact_ref), field=field)
    after = changes.filter(changed_at__gt=moment).order_by("changed_at", "pk").values("old")[:1]
    # Last resort, for a contact without a score row: the newest change at or before the moment.
    before = changes.filter(changed_at__lte=moment).order_by("-changed_at", "-pk").values("new")[:1]
    return Coalesce(Subquery(after), F(current), Subquery(before), output_field=CharField())
