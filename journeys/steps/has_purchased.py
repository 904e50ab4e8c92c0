"""Has purchased: more than N orders in the last N days (or since entry); yes/no. One query per batch."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from journeys.steps.base import Names, StepKind, StepResult, require_int


class HasPurchased(StepKind):
    kind = "has_purchased"
    label = "Has purchased"
    fixed_branches = ("yes", "no")

    def validate(self, config: dict) -> dict:
        config = dict(config or {})
        cleaned = {"more_than": require_int({"more_than": config.get("more_than", 0)}, "more_than")}
        if config.get("since_entry"):
            cleaned["since_entry"] = True
        else:
            cleaned["days"] = require_int(config, "days", minimum=1)
        return cleaned

    def run(self, *, step, enrollments, ctx):
        from contacts.models import Order
        from journeys.models import Enrollment

        config = step.config
        purchases = Order.objects.exclude(status__in=Order.NOT_PURCHASES).filter(placed_at__lte=ctx.now)
        if config.get("since_entry"):
            # Each enrollment has its own entry time: a correlated count per enrollment, one query.
            counted = (
                purchases.filter(contact=OuterRef("contact"), placed_at__gte=OuterRef("entered_at"))
                .order_by()
                .values("contact")
                .annotate(n=Count("id"))
                .values("n")
            )
            counts = dict(
                Enrollment.objects.filter(id__in=[e.id for e in enrollments])
                .annotate(n=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)))
                .values_list("id", "n")
            )
        else:
            # One window for everyone: one GROUP BY over the batch's contacts.
            by_contact = dict(
                purchases.filter(
                    contact_id__in=[e.contact_id for e in enrollments],
                    placed_at__gte=ctx.now - timedelta(days=int(config["days"])),
                )
                .order_by()
                .values("contact_id")
                .annotate(n=Count("id"))
                .values_list("contact_id", "n")
            )
            counts = {e.id: by_contact.get(e.contact_id, 0) for e in enrollments}
        more_than = int(config.get("more_than", 0))
        return {e.id: StepResult("yes" if counts.get(e.id, 0) > more_than else "no") for e in enrollments}

    def describe(self, config: dict, names: Names | None = None) -> str:
        window = "since entry" if config.get("since_entry") else f"in the last {config.get('days')} days"
        return f"more than {config.get('more_than', 0)} orders {window}"
