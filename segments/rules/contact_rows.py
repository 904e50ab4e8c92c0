"""ContactRows: the EXISTS of "this contact has child rows matching ..." (tags, events), carrying the
child rows' contact ids so that segments.rules.counting can count them without the join back."""

from __future__ import annotations

from django.db.models import Exists, Model, OuterRef, Q


class ContactRows(Exists):
    """EXISTS (rows of `model` of this contact matching `match`) that also knows those rows' contact ids."""

    def __init__(self, model: type[Model], match: Q) -> None:
        self.members = model.objects.filter(match).values("contact_id")
        super().__init__(model.objects.filter(match, contact_id=OuterRef("pk")))
