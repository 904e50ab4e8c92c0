"""Has purchased: more than N orders in the last N days (or since entry); yes/no. One query per batch."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from journeys.steps.base import StepKind, StepResult, require_int


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
        orders = Order.objects.filter(contact=OuterRef("contact")).exclude(status__in=Order.NOT_PURCHASES)
        if config.get("since_entry"):
            orders = orders.filter(placed_at__gte=OuterRef("entered_at"))
        else:
            orders = orders.filter(placed_at__gte=ctx.now - timedelta(days=int(config["days"])))
        orders = orders.filter(placed_at__lte=ctx.now)
        counted = orders.order_by().values("contact").annotate(n=Count("id")).values("n")
        counts = dict(
            Enrollment.objects.filter(id__in=[e.id for e in enrollments])
            .annotate(n=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)))
            .values_list("id", "n")
        )
        more_than = int(config.get("more_than", 0))
        return {e.id: StepResult("yes" if counts.get(e.id, 0) > more_than else "no") for e in enrollments}

    def describe(self, config: dict) -> str:
        window = "since entry" if config.get("since_entry") else f"in the last {config.get('days')} days"
        return f"more than {config.get('more_than', 0)} orders {window}"
