"""A contact's scores at a past moment, from ScoreChange history (written only when a value changes)."""

from __future__ import annotations

from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from segments.models import ContactScore, ScoreChange


def value_at(*, field: str, current: str, moment, contact_ref: str = "contact_id") -> Coalesce:
    """Expression: the value of a score `field` ("stage", "segment", "cluster") at `moment` (an
    OuterRef or a datetime) for the outer row's contact: the newest change at or before it; else the
    old value of the first change after it; else the contact's current score column `current`."""
    contact = OuterRef(contact_ref)
    changes = ScoreChange.objects.filter(contact_id=contact, field=field)
    before = changes.filter(changed_at__lte=moment).order_by("-changed_at", "-pk").values("new")[:1]
    after = changes.filter(changed_at__gt=moment).order_by("changed_at", "pk").values("old")[:1]
    now = ContactScore.objects.filter(contact_id=contact).values(current)[:1]
    return Coalesce(Subquery(before), Subquery(after), Subquery(now), output_field=CharField())
