"""The journey report: one fixed set of grouped queries, whatever the number of contacts or steps.

Nine queries: steps and edges of the shown version (2), enrollments by group (1), by state/exit/step (1),
the funnel from step history (1), messages by step/channel/status and their steps' keys (2), reactivation
(1), median time to purchase (1; on PostgreSQL percentile_cont, elsewhere the median of fetched durations).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Aggregate, Count, DecimalField, Exists, F, FloatField, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Extract

from contacts.models import Order
from journeys.models import Conversion, Edge, Enrollment, Journey, JourneyVersion, Step, StepRun
from messaging.models import Message
from reports import stats
from reports.selectors.history import value_at

MONEY = DecimalField(max_digits=20, decimal_places=2)
REACTIVATION_STAGES = ("defecting", "lost")


@dataclass(frozen=True)
class ReportFilter:
    version: JourneyVersion | None = None
    entered_from: dt.date | None = None
    entered_to: dt.date | None = None  # inclusive

    def enrollments(self, journey: Journey) -> QuerySet[Enrollment]:
        qs = Enrollment.objects.filter(journey=journey)
        if self.version is not None:
            qs = qs.filter(version=self.version)
        if self.entered_from:
            qs = qs.filter(entered_at__date__gte=self.entered_from)
        if self.entered_to:
            qs = qs.filter(entered_at__date__lte=self.entered_to)
        return qs.order_by()

    @property
    def is_filtered(self) -> bool:
        return bool(self.version or self.entered_from or self.entered_to)


class _Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _money(value) -> float:
    return float(round(Decimal(value or 0), 2))


def _ordered_steps(steps: list[dict], edges: list[tuple[int, int]]) -> list[dict]:
    """Steps in walking order from the entry (breadth first), unreachable ones last."""
    out = defaultdict(list)
    for a, b in edges:
        out[a].append(b)
    by_id = {s["id"]: s for s in steps}
    order, seen = [], set()
    frontier = [s["id"] for s in steps if s["kind"] == "entry"]
    while frontier:
        nxt = []
        for sid in frontier:
            if sid in seen or sid not in by_id:
                continue
            seen.add(sid)
            order.append(by_id[sid])
            nxt.extend(out[sid])
        frontier = nxt
    return order + [s for s in steps if s["id"] not in seen]


def _group(n: int, converted: int, revenue, squares) -> dict:
    return {
        "entered": n,
        "converted": converted,
        "conversion_rate": _rate(converted, n),
        "revenue": _money(revenue),
        "revenue_per_contact": float(revenue or 0) / n if n else None,
        "_squares": float(squares or 0),
    }


def journey_results(*, journey: Journey, filters: ReportFilter | None = None) -> dict:
    """Everything the journey report shows (see module docstring for the queries)."""
    filters = filters or ReportFilter()
    enrollments = filters.enrollments(journey)
    shown_version = filters.version or journey.current_version

    # 1-2. Steps and edges of the shown version (the draft if nothing is published).
    steps = list(
        Step.objects.filter(journey=journey, version=shown_version).values("id", "key", "kind", "name")
    )
    edges = list(
        Edge.objects.filter(journey=journey, version=shown_version).values_list("from_step_id", "to_step_id")
    )
    steps = _ordered_steps(steps, edges)

    # 3. Groups: holdout x variant, with conversions (one per enrollment) and revenue.
    revenue = F("conversions__revenue")
    groups = list(
        enrollments.values("holdout", "variant")
        .annotate(
            n=Count("id"),
            converted=Count("conversions__id"),
            revenue=Sum(revenue, output_field=MONEY),
            squares=Sum(revenue * revenue, output_field=MONEY),
        )
        .order_by("holdout", "variant")
    )

    # 4. Where contacts are and why they left.
    placement = list(
        enrollments.values("state", "exit_reason", "step__key").annotate(n=Count("id")).order_by()
    )

    # 5. Funnel: distinct contacts who reached each step (any version, matched by step key).
    runs = StepRun.objects.filter(journey_id=journey.pk)
    if filters.is_filtered:
        runs = runs.filter(enrollment__in=enrollments.values("id"))
    reached = dict(
        runs.order_by()
        .values("step__key")
        .annotate(n=Count("enrollment_id", distinct=True))
        .values_list("step__key", "n")
    )

    # 6. Messages per step and channel.
    messages = Message.objects.filter(journey_id=journey.pk)
    if filters.is_filtered:
        messages = messages.filter(enrollment_id__in=enrollments.values("id"))
    message_rows = list(
        messages.order_by()
        .values("step_id", "channel", "status")
        .annotate(
            n=Count("id"),
            opened=Count("opened_at"),
            clicked=Count("clicked_at"),
            unsubscribed=Count("unsubscribed_at"),
        )
    )
    message_step_ids = {row["step_id"] for row in message_rows}
    step_keys = (
        dict(Step.objects.filter(id__in=message_step_ids).values_list("id", "key"))
        if message_step_ids
        else {}
    )

    # 7. Reactivation: defecting or inactive/lost at entry, purchased afterwards.
    stage_at_entry = value_at(
        field="stage", current="contact__score__lifecycle_stage", moment=OuterRef("entered_at")
    )
    bought_after = Exists(
        Order.objects.filter(
            contact_id=OuterRef("contact_id"), placed_at__gte=OuterRef("entered_at")
        ).exclude(status__in=Order.NOT_PURCHASES)
    )
    reactivation = (
        enrollments.annotate(stage_at_entry=stage_at_entry, bought_after=bought_after)
        .filter(stage_at_entry__in=REACTIVATION_STAGES)
        .values("holdout")
        .annotate(n=Count("id"), bought=Count("id", filter=Q(bought_after=True)))
        .order_by()
    )
    reactivation_rows = {row["holdout"]: row for row in reactivation}

    # 8. Median time from entry to purchase (converted contacts).
    conversions = Conversion.objects.filter(enrollment__in=enrollments.values("id"))
    median_days = _median_days(conversions)

    return _assemble(
        journey=journey,
        filters=filters,
        shown_version=shown_version,
        steps=steps,
        groups=groups,
        placement=placement,
        reached=reached,
        message_rows=message_rows,
        step_keys=step_keys,
        reactivation_rows=reactivation_rows,
        median_days=median_days,
    )


def _median_days(conversions: QuerySet[Conversion]) -> float | None:
    if connection.vendor == "postgresql":
        seconds = conversions.aggregate(
            m=_Median(Extract(F("converted_at") - F("enrollment__entered_at"), "epoch"))
        )["m"]
        return None if seconds is None else seconds / 86400
    pairs = list(conversions.values_list("converted_at", "enrollment__entered_at"))
    if not pairs:
        return None
    return statistics.median((c - e).total_seconds() for c, e in pairs) / 86400


def _assemble(
    *,
    journey,
    filters,
    shown_version,
    steps,
    groups,
    placement,
    reached,
    message_rows,
    step_keys,
    reactivation_rows,
    median_days,
) -> dict:
    totals = {"n": 0, "converted": 0, "revenue": Decimal(0), "squares": Decimal(0)}
    sides = {True: dict(totals), False: dict(totals)}
    variant_rows: dict[str, dict] = {}
    for row in groups:
        side = sides[row["holdout"]]
        for key in totals:
            side[key] += row[key] or 0
        if not row["holdout"] and row["variant"]:
            variant_rows[row["variant"]] = row
    treated, holdout = sides[False], sides[True]
    treated_group = _group(treated["n"], treated["converted"], treated["revenue"], treated["squares"])
    holdout_group = _group(holdout["n"], holdout["converted"], holdout["revenue"], holdout["squares"])
    lift = _lift(treated_group, holdout_group)

    variants = _variants(variant_rows)

    in_flight: dict[str, int] = defaultdict(int)
    exits: dict[tuple[str, str], int] = defaultdict(int)
    for row in placement:
        if row["state"] in Enrollment.IN_FLIGHT:
            in_flight[row["step__key"] or ""] += row["n"]
        else:
            exits[(row["state"], row["exit_reason"] or "")] += row["n"]
    exited = [
        {"state": state, "reason": reason or "(none recorded)", "contacts": n}
        for (state, reason), n in sorted(exits.items(), key=lambda item: -item[1])
    ]

    channels: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for row in message_rows:
        key = step_keys.get(row["step_id"], "")
        counts = channels[key].setdefault(
            row["channel"],
            {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "unsubscribed": 0, "bounced": 0},
        )
        if row["status"] in (Message.Status.SENT, Message.Status.BOUNCED):
            counts["sent"] += row["n"]
        if row["status"] == Message.Status.SENT:
            counts["delivered"] += row["n"]
        if row["status"] == Message.Status.BOUNCED:
            counts["bounced"] += row["n"]
        for name in ("opened", "clicked", "unsubscribed"):
            counts[name] += row[name]

    entered_total = treated["n"] + holdout["n"]
    step_rows = []
    for step in steps:
        messages = []
        for channel, c in sorted(channels.get(step["key"], {}).items()):
            messages.append(
                {
                    "channel": channel,
                    **c,
                    "delivery_rate": _rate(c["delivered"], c["sent"]),
                    "open_rate": _rate(c["opened"], c["delivered"]),
                    "click_rate": _rate(c["clicked"], c["delivered"]),
                    "unsubscribe_rate": _rate(c["unsubscribed"], c["delivered"]),
                    "bounce_rate": _rate(c["bounced"], c["sent"]),
                }
            )
        reached_n = reached.get(step["key"], 0)
        step_rows.append(
            {
                "key": step["key"],
                "name": step["name"],
                "kind": step["kind"],
                "reached": reached_n,
                "reached_rate": _rate(reached_n, entered_total),
                "in_flight": in_flight.get(step["key"], 0),
                "messages": messages,
            }
        )

    def reactivation_side(flag: bool) -> dict:
        row = reactivation_rows.get(flag, {"n": 0, "bought": 0})
        return {"eligible": row["n"], "purchased": row["bought"], "rate": _rate(row["bought"], row["n"])}

    return {
        "journey": journey,
        "filters": filters,
        "version": shown_version,
        "entered": entered_total,
        "converted": treated["converted"] + holdout["converted"],
        "revenue": _money(treated["revenue"] + holdout["revenue"]),
        "in_flight": sum(in_flight.values()),
        "treated": treated_group,
        "holdout": holdout_group,
        "lift": lift,
        "variants": variants,
        "steps": step_rows,
        "exited": exited,
        "reactivation": {"treated": reactivation_side(False), "holdout": reactivation_side(True)},
        "median_days_to_purchase": median_days,
        "conversion_window_days": journey.conversion_window_days,
    }


def _lift(treated: dict, holdout: dict) -> dict:
    nt, nh = treated["entered"], holdout["entered"]
    xt, xh = treated["converted"], holdout["converted"]
    difference = stats.newcombe_difference(xt, nt, xh, nh)
    revenue = stats.welch_interval(
        nt, treated["revenue"], treated["_squares"], nh, holdout["revenue"], holdout["_squares"]
    )
    test = stats.two_proportion_z_test(xt, nt, xh, nh)
    holdout_rate = holdout["conversion_rate"]
    lift = {
        "absolute": difference.estimate if difference else None,
        "relative": difference.estimate / holdout_rate if difference and holdout_rate else None,
        "ci_low": difference.low if difference else None,
        "ci_high": difference.high if difference else None,
        "p_value": test.p_value if test else None,
        "revenue_per_contact": revenue.estimate if revenue else None,
        "revenue_ci_low": revenue.low if revenue else None,
        "revenue_ci_high": revenue.high if revenue else None,
        "incremental_conversions": difference.estimate * nt if difference else None,
        "incremental_revenue": revenue.estimate * nt if revenue else None,
        "more_needed": None,
    }
    lift["verdict"] = _verdict(lift, treated, holdout)
    return lift


def _verdict(lift: dict, treated: dict, holdout: dict) -> str:
    if not holdout["entered"]:
        return (
            "No holdout group yet, so the journey's own effect cannot be measured. Set a holdout percent "
            "(for example 10 %) on the journey."
        )
    if not treated["entered"]:
        return "Nobody outside the holdout has entered yet."
    low, high, absolute = lift["ci_low"], lift["ci_high"], lift["absolute"]
    if low > 0:
        return (
            f"The journey works: {absolute * 100:.1f} more conversions per 100 contacts than the holdout "
            f"(95 % CI {low * 100:.1f} to {high * 100:.1f}), "
            f"about {lift['incremental_conversions']:,.0f} extra conversions."
        )
    if high < 0:
        return (
            f"The journey does worse than doing nothing: {absolute * 100:.1f} conversions per 100 contacts "
            f"(95 % CI {low * 100:.1f} to {high * 100:.1f}). Review its messages and offers."
        )
    more = stats.more_needed(
        treated["converted"], treated["entered"], holdout["converted"], holdout["entered"]
    )
    lift["more_needed"] = more
    if more:
        return (
            f"Too few contacts to tell yet: about {more:,} more needed to tell this difference from chance."
        )
    return "No difference between treated and holdout so far; too few contacts to tell yet."


def _variants(rows: dict[str, dict]) -> list[dict]:
    labels = sorted(rows)
    pairs = [(rows[label]["converted"], rows[label]["n"]) for label in labels]
    test = stats.variants_test(pairs) if len(pairs) >= 2 else None
    best = stats.probability_best(pairs) if len(pairs) >= 2 else [None] * len(pairs)
    variants = []
    for label, (x, n), p_best in zip(labels, pairs, best, strict=True):
        low, high = stats.wilson_interval(x, n)
        row = rows[label]
        variants.append(
            {
                "variant": label,
                "entered": n,
                "converted": x,
                "conversion_rate": _rate(x, n),
                "ci_low": low if n else None,
                "ci_high": high if n else None,
                "revenue": _money(row["revenue"]),
                "revenue_per_contact": float(row["revenue"] or 0) / n if n else None,
                "test": test.name if test else None,
                "p_value": test.p_value if test else None,
                "probability_best": p_best,
            }
        )
    return variants
