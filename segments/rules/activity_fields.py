"""Conditions on what a contact did: purchases, events, coupons, messages, journeys, other segments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from segments.rules.contact_rows import ContactRows
from segments.rules.operators import _compare
from segments.rules.purchase_windows import maintained_window, window_buyers
from segments.rules.validation import (
    RuleError,
    _choice,
    _identifier,
    _in_period,
    _Invalid,
    _moment,
    _number,
    _period,
    _text_list,
    _whole,
)

if TYPE_CHECKING:
    from segments.rules.compiler import _Context


def _purchases(ctx: _Context, cond: dict, prefix: str = "") -> Q:
    from contacts.models import Order

    start, end = _period(cond, ctx.now)
    return ~Q(**{f"{prefix}status__in": Order.NOT_PURCHASES}) & _in_period(f"{prefix}placed_at", start, end)


def _buyers_having(ctx: _Context, cond: dict, aggregate, op: str, value) -> Q:
    """Contacts whose purchases (in the period) have aggregate `op` value: ONE grouped subquery joined as a
    semi-join (id IN (... GROUP BY contact HAVING ...)), read once instead of once per contact."""
    from contacts.models import Order

    lookup = {"eq": "exact", "gt": "gt", "gte": "gte"}[op]
    orders = Order.objects.filter(_purchases(ctx, cond))
    if ctx.contact_ids is not None:
        orders = orders.filter(contact_id__in=ctx.contact_ids)
    having = (
        orders.order_by()
        .values("contact_id")
        .annotate(measure=aggregate)
        .filter(**{f"measure__{lookup}": value})
        .values("contact_id")
    )
    return Q(pk__in=Subquery(having))


def _compile_purchase_count(cond: dict, ctx: _Context) -> Q:
    from contacts.models import Order

    op, value = cond["operator"], _whole(cond.get("value"))
    orders = Order.objects.filter(_purchases(ctx, cond), contact_id=OuterRef("pk"))
    if (op, value) in (("gte", 1), ("gt", 0), ("ne", 0)):
        return Q(Exists(orders))
    if (op, value) in (("eq", 0), ("lt", 1), ("lte", 0)):
        return ~Q(Exists(orders))
    if op == "gte" and value == 0:
        return Q()
    if op in ("gt", "gte", "eq"):  # value >= 1: only buyers qualify
        window = maintained_window(cond, ctx)
        if window is not None:
            return window_buyers(ctx, *window, "n", op, value)
        return _buyers_having(ctx, cond, Count("*"), op, value)
    # lt, lte, ne: contacts without purchases qualify too; a correlated count stays linear.
    counted = orders.order_by().values("contact_id").annotate(n=Count("*")).values("n")
    return _compare(Coalesce(Subquery(counted), Value(0)), op, value)


def _compile_purchase_amount(cond: dict, ctx: _Context) -> Q:
    from django.db.models import DecimalField

    from contacts.models import Order

    op = cond["operator"]
    try:
        value = Decimal(str(_number(cond.get("value"))))
    except InvalidOperation:
        raise _Invalid(f"expected an amount, got {cond.get('value')!r}") from None
    if (op == "gt" and value >= 0) or (op in ("gte", "eq") and value > 0):  # only buyers qualify
        window = maintained_window(cond, ctx)
        if window is not None:
            return window_buyers(ctx, *window, "s", op, value)
        return _buyers_having(ctx, cond, Sum("total"), op, value)
    orders = Order.objects.filter(_purchases(ctx, cond), contact_id=OuterRef("pk"))
    summed = orders.order_by().values("contact_id").annotate(s=Sum("total")).values("s")
    money = DecimalField(max_digits=14, decimal_places=2)
    return _compare(
        Coalesce(Subquery(summed, output_field=money), Value(Decimal(0)), output_field=money), op, value
    )


def _last_purchase_window(cond: dict, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) of the last purchase for between/since/before/within/more-than-days-ago."""
    op = cond["operator"]
    if op == "between":
        bounds = cond.get("value")
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise _Invalid("expected [from, to]")
        return _moment(bounds[0], now), _moment(bounds[1], now, end_of_day=True)
    if op in ("since", "before"):
        moment = _moment(cond.get("value"), now)
    else:
        moment = now - dt.timedelta(days=_whole(cond.get("value")))
    return (moment, None) if op in ("since", "within_last_days") else (None, moment)


def _compile_last_purchase(cond: dict, ctx: _Context) -> Q:
    """Date of the last purchase. PostgreSQL: a range scan of segments.ContactPurchaseStats (kept exact by
    triggers on contacts_order); SQLite: EXISTS tests on the (contact, placed_at) index."""
    from django.db import connection

    from contacts.models import Order
    from segments.models import ContactPurchaseStats

    op, now = cond["operator"], ctx.now
    if connection.vendor == "postgresql":
        buyers = ContactPurchaseStats.objects.all()
        if op not in ("is_empty", "is_not_empty"):
            start, end = _last_purchase_window(cond, now)
            buyers = buyers.filter(_in_period("last_purchase_at", start, end))
        q = Q(pk__in=buyers.values("contact_id"))
        return ~q if op == "is_empty" else q
    purchases = Order.objects.exclude(status__in=Order.NOT_PURCHASES).filter(contact_id=OuterRef("pk"))

    def any_(**kwargs) -> Q:
        return Q(Exists(purchases.filter(**kwargs)))

    if op == "is_empty":
        return ~any_()
    if op == "is_not_empty":
        return any_()
    start, end = _last_purchase_window(cond, now)
    if end is None:  # since, within_last_days
        return any_(placed_at__gte=start)
    if start is None:  # before, more_than_days_ago
        return any_() & ~any_(placed_at__gte=end)
    return any_(placed_at__gte=start, placed_at__lt=end) & ~any_(placed_at__gte=end)


def _bought(column_lookups: tuple[str, ...]) -> Callable[..., Q]:
    def compile_bought(cond: dict, ctx: _Context) -> Q:
        from contacts.models import OrderLine

        values = _text_list(cond.get("value"))
        match = Q()
        for lookup in column_lookups:
            match |= Q(**{f"{lookup}__in": values})
        lines = OrderLine.objects.filter(
            match, _purchases(ctx, cond, "order__"), order__contact_id=OuterRef("pk")
        )
        q = Q(Exists(lines))
        return q if cond["operator"] == "any" else ~q

    return compile_bought


# engagement -----------------------------------------------------------------------------------------


def _event(kind: str | None) -> Callable[..., Q]:
    def compile_event(cond: dict, ctx: _Context) -> Q:
        from contacts.models import Event

        event_kind = kind or _choice(cond.get("kind"), list(Event.Kind.values), "kind")
        days = _whole(cond.get("value"))
        q = Q(kind=event_kind, occurred_at__gte=ctx.now - dt.timedelta(days=days))
        if cond.get("message_id") is not None:
            q &= Q(message_id=_identifier(cond["message_id"], "message_id"))
        exists = Q(ContactRows(Event, q))
        return exists if cond["operator"] == "within_last_days" else ~exists

    return compile_event


def _compile_segment(cond: dict, ctx: _Context) -> Q:
    from segments.models import Segment
    from segments.rules.compiler import _compile_node, _Context

    segment_id = _identifier(cond.get("value"), "value")
    if segment_id in ctx.seen_segments:
        raise _Invalid(f"segment {segment_id} refers back to itself (a cycle)")
    rules = Segment.objects.filter(pk=segment_id).values_list("rules", flat=True).first()
    if rules is None:
        raise _Invalid(f"segment {segment_id} does not exist")
    inner = _Context(
        now=ctx.now,
        seen_segments=ctx.seen_segments | {segment_id},
        depth=ctx.depth + 1,
        contact_ids=ctx.contact_ids,
    )
    inner_errors: list[tuple[str, str]] = []
    q = _compile_node(rules or {}, inner, inner_errors, "")
    if inner_errors:
        raise _Invalid(f"segment {segment_id} has invalid rules: {RuleError(inner_errors)}")
    return q if cond["operator"] == "in" else ~q


def _compile_coupon(cond: dict, ctx: _Context) -> Q:
    try:
        from coupons.models import Coupon
    except ImportError:
        raise _Invalid("coupons are not available") from None
    q = Q(contact_id=OuterRef("pk"))
    if cond.get("pool") is not None:
        q &= Q(pool_id=_identifier(cond["pool"], "pool"))
    start, end = _period(cond, ctx.now)
    op = cond["operator"]
    if op in ("redeemed", "not_redeemed"):
        q &= Q(redeemed_at__isnull=False) & _in_period("redeemed_at", start, end)
    else:
        q &= _in_period("assigned_at", start, end)
    if op == "assigned_not_redeemed":
        q &= Q(redeemed_at__isnull=True)
    exists = Q(Exists(Coupon.objects.filter(q)))
    return ~exists if op in ("not_assigned", "not_redeemed") else exists


def _compile_message(cond: dict, ctx: _Context) -> Q:
    """A message (messaging.Message) sent / opened / clicked, optionally of a template, journey or step."""
    try:
        from messaging.models import Message
    except ImportError:
        raise _Invalid("messages are not available") from None
    op = cond["operator"]
    moment = {"sent": "sent_at", "opened": "opened_at", "clicked": "clicked_at"}[op.removeprefix("not_")]
    q = Q(contact_id=OuterRef("pk"), **{f"{moment}__isnull": False})
    for key, column in (("template", "template_id"), ("journey", "journey_id"), ("step", "step_id")):
        if cond.get(key) is not None:
            q &= Q(**{column: _identifier(cond[key], key)})
    start, end = _period(cond, ctx.now)
    q &= _in_period(moment, start, end)
    exists = Q(Exists(Message.objects.filter(q)))
    return ~exists if op.startswith("not_") else exists


def _compile_journey(cond: dict, ctx: _Context) -> Q:
    try:
        from journeys.models import Enrollment
    except ImportError:
        raise _Invalid("journeys are not available") from None
    q = Q(contact_id=OuterRef("pk"), journey_id=_identifier(cond.get("value"), "value"))
    if cond.get("state") is not None:
        q &= Q(state__in=_text_list(cond["state"], "state", choices=list(Enrollment.State.values)))
    exists = Q(Exists(Enrollment.objects.filter(q)))
    return exists if cond["operator"] == "enrolled" else ~exists
