"""Segment rule trees: validation and compilation to ONE queryset filter (a Q object).

A tree is a group or a condition:

    {"op": "and" | "or", "rules": [node, ...]}
    {"op": "not", "rules": [node]}
    {"field": "rfm_segment", "operator": "in", "value": ["Champions", "Loyal Customers"]}

Every condition compiles to a column lookup on contacts or to an EXISTS / correlated subquery, so the
whole tree is one SQL statement. Conditions are never NULL (a missing value makes a condition false and its
NOT true). Relative dates (``{"days_ago": 90}``, ``within_last_days``) are evaluated when compiled, i.e. at
run time. Models of other apps are imported lazily inside the compiler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone

MAX_DEPTH = 12


class RuleError(ValueError):
    """The rule tree is invalid. `errors` lists (path, message) pairs, e.g. ("rules[0].value", "...")."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {message}" if path else message for path, message in errors))


class _Invalid(Exception):
    def __init__(self, message: str, key: str = ""):
        self.message = message
        self.key = key


# --- value readers ---------------------------------------------------------------------------------


def _number(value: Any, key: str = "value") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected a number, got {value!r}", key)
    return value


def _whole(value: Any, key: str = "value") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"expected a whole number of days (0 or more), got {value!r}", key)
    return value


def _text(value: Any, key: str = "value") -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected text, got {value!r}", key)
    return value


def _text_list(value: Any, key: str = "value", choices: list[str] | None = None) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"expected a list of text values, got {value!r}", key)
    if choices is not None:
        unknown = [v for v in value if v not in choices]
        if unknown:
            raise _Invalid(f"unknown value(s) {unknown!r}; choose from {choices}", key)
    return value


def _choice(value: Any, choices: list[str], key: str = "value") -> str:
    if value not in choices:
        raise _Invalid(f"{value!r} is not one of {choices}", key)
    return value


def _identifier(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"expected an id (a whole number), got {value!r}", key)
    return value


def _moment(value: Any, now: dt.datetime, key: str = "value", *, end_of_day: bool = False) -> dt.datetime:
    """'YYYY-MM-DD' (midnight in TIME_ZONE; end_of_day gives the next midnight) or {"days_ago": N}."""
    if isinstance(value, dict) and set(value) == {"days_ago"}:
        return now - dt.timedelta(days=_whole(value["days_ago"], key))
    if isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise _Invalid(f'{value!r} is not a date (YYYY-MM-DD) or {{"days_ago": N}}', key) from None
        if end_of_day:
            day += dt.timedelta(days=1)
        return timezone.make_aware(dt.datetime.combine(day, dt.time()))
    raise _Invalid(f"expected a date 'YYYY-MM-DD' or {{\"days_ago\": N}}, got {value!r}", key)


def _period(cond: dict, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Optional "period": {"last_days": N} or {"between": [from, to]} (both dates included)."""
    period = cond.get("period")
    if period is None:
        return None, None
    if isinstance(period, dict) and set(period) == {"last_days"}:
        return now - dt.timedelta(days=_whole(period["last_days"], "period.last_days")), None
    if isinstance(period, dict) and set(period) == {"between"}:
        bounds = period["between"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise _Invalid("expected [from, to]", "period.between")
        return (
            _moment(bounds[0], now, "period.between"),
            _moment(bounds[1], now, "period.between", end_of_day=True),
        )
    raise _Invalid('expected {"last_days": N} or {"between": ["YYYY-MM-DD", "YYYY-MM-DD"]}', "period")


def _in_period(prefix: str, start: dt.datetime | None, end: dt.datetime | None) -> Q:
    q = Q()
    if start is not None:
        q &= Q(**{f"{prefix}__gte": start})
    if end is not None:
        q &= Q(**{f"{prefix}__lt": end})
    return q


# --- field catalogue -------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    group: str
    operators: tuple[str, ...]
    compile: Callable[..., Q]
    hint: str = ""
    params: tuple[str, ...] = field(default=())


@dataclass
class _Context:
    now: dt.datetime
    seen_segments: frozenset[int]
    depth: int = 0
    # When only these contacts will be asked about (a contact page, segment_contains), grouped subqueries
    # are narrowed to them instead of aggregating every contact's orders.
    contact_ids: tuple[int, ...] | None = None


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


# contact columns ----------------------------------------------------------------------------------


def _text_column(column: str, nullable: bool) -> Callable[..., Q]:
    def compile_text(cond: dict, ctx: _Context) -> Q:
        op = cond["operator"]
        if op in ("is_empty", "is_not_empty"):
            empty = Q(**{column: ""}) | (Q(**{f"{column}__isnull": True}) if nullable else Q(pk__in=[]))
            return empty if op == "is_empty" else ~empty
        if op in ("in", "not_in"):
            q = Q(**{f"{column}__in": _text_list(cond.get("value"))})
            return q if op == "in" else ~q
        value = _text(cond.get("value"))
        lookup = {"eq": "exact", "ne": "exact", "contains": "icontains", "startswith": "istartswith"}[op]
        q = Q(**{f"{column}__{lookup}": value})
        return ~q if op == "ne" else q

    return compile_text


def _choice_column(column: str, choices: Callable[[], list[str]]) -> Callable[..., Q]:
    def compile_choice(cond: dict, ctx: _Context) -> Q:
        op = cond["operator"]
        if op in ("in", "not_in"):
            q = Q(**{f"{column}__in": _text_list(cond.get("value"), choices=choices())})
        else:
            q = Q(**{column: _choice(cond.get("value"), choices())})
        return ~q if op in ("ne", "not_in") else q

    return compile_choice


def _bool_column(column: str) -> Callable[..., Q]:
    def compile_bool(cond: dict, ctx: _Context) -> Q:
        value = cond.get("value")
        if not isinstance(value, bool):
            raise _Invalid(f"expected true or false, got {value!r}")
        return Q(**{column: value})

    return compile_bool


def _date_column(column: str) -> Callable[..., Q]:
    def compile_date(cond: dict, ctx: _Context) -> Q:
        op, now = cond["operator"], ctx.now
        if op in ("is_empty", "is_not_empty"):
            q = Q(**{f"{column}__isnull": True})
            return q if op == "is_empty" else ~q
        if op == "between":
            bounds = cond.get("value")
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise _Invalid("expected [from, to]")
            return Q(
                **{
                    f"{column}__gte": _moment(bounds[0], now),
                    f"{column}__lt": _moment(bounds[1], now, end_of_day=True),
                }
            )
        if op == "since":
            return Q(**{f"{column}__gte": _moment(cond.get("value"), now)})
        if op == "before":
            return Q(**{f"{column}__lt": _moment(cond.get("value"), now)})
        days = dt.timedelta(days=_whole(cond.get("value")))
        if op == "within_last_days":
            return Q(**{f"{column}__gte": now - days})
        return Q(**{f"{column}__lt": now - days})  # more_than_days_ago

    return compile_date


def _compile_tags(cond: dict, ctx: _Context) -> Q:
    from contacts.models import Contact

    names = _text_list(cond.get("value"))
    through = Contact.tags.through

    def has(tag_names: list[str]) -> Q:
        return Q(Exists(through.objects.filter(contact_id=OuterRef("pk"), tag__name__in=tag_names)))

    op = cond["operator"]
    if op == "has_any":
        return has(names)
    if op == "has_none":
        return ~has(names)
    q = Q()
    for name in names:  # has_all
        q &= has([name])
    return q


def _compile_attribute(cond: dict, ctx: _Context) -> Q:
    key = cond.get("key")
    if not isinstance(key, str) or not key.replace("_", "").isalnum():
        raise _Invalid(f"expected an attribute name (letters, digits, _), got {key!r}", "key")
    op = cond["operator"]
    present = Q(attributes__has_key=key)
    if op in ("exists", "not_exists"):
        return present if op == "exists" else ~present
    value = cond.get("value")
    if op in ("gt", "gte", "lt", "lte"):
        _number(value)
        return present & Q(**{f"attributes__{key}__{op}": value})
    if op == "contains":
        return present & Q(**{f"attributes__{key}__icontains": _text(value)})
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"expected text, a number or true/false, got {value!r}")
    q = present & Q(**{f"attributes__{key}": value})
    return ~q if op == "ne" else q


# scores ---------------------------------------------------------------------------------------------


def _score_exists(q: Q) -> Q:
    from segments.models import ContactScore

    return Q(Exists(ContactScore.objects.filter(q, contact_id=OuterRef("pk"))))


def _score_number(column: str, integer: bool = False) -> Callable[..., Q]:
    def compile_score_number(cond: dict, ctx: _Context) -> Q:
        op = cond["operator"]
        if op in ("is_empty", "is_not_empty"):
            q = _score_exists(Q(**{f"{column}__isnull": False}))
            return ~q if op == "is_empty" else q
        if op == "between":
            bounds = cond.get("value")
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise _Invalid("expected [low, high]")
            low, high = _number(bounds[0]), _number(bounds[1])
            return _score_exists(Q(**{f"{column}__gte": low, f"{column}__lte": high}))
        value = _number(cond.get("value"))
        if op == "ne":
            return ~_score_exists(Q(**{column: value}))
        lookup = {"eq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}[op]
        return _score_exists(Q(**{f"{column}__{lookup}": value}))

    return compile_score_number


def _score_choice(column: str, choices: Callable[[], list[str]], missing_means: str = "") -> Callable[..., Q]:
    """Choice on the score row; a contact without a row counts as `missing_means` (e.g. "never")."""

    def compile_score_choice(cond: dict, ctx: _Context) -> Q:
        from segments.models import ContactScore

        op = cond["operator"]
        if op in ("in", "not_in"):
            values = _text_list(cond.get("value"), choices=choices())
        else:
            values = [_choice(cond.get("value"), choices())]
        q = _score_exists(Q(**{f"{column}__in": values}))
        if missing_means and missing_means in values:
            q |= ~Q(Exists(ContactScore.objects.filter(contact_id=OuterRef("pk"))))
        return ~q if op in ("ne", "not_in") else q

    return compile_score_choice


def _rfm_segment_names() -> list[str]:
    from segments.rfm import segment_map_current

    return list(segment_map_current().names)


def _stage_names() -> list[str]:
    from segments.models import LifecycleStage

    return list(LifecycleStage.values)


def _cluster_names() -> list[str]:
    from segments.models import ValueCluster

    return list(ValueCluster.values)


_CHANGE_FIELDS = {"segment": _rfm_segment_names, "stage": _stage_names, "cluster": _cluster_names}


def _compile_transition(cond: dict, ctx: _Context) -> Q:
    """Changed (from -> to) within a period, from the ScoreChange history."""
    from segments.models import ScoreChange

    attribute = _choice(cond.get("attribute"), list(_CHANGE_FIELDS), "attribute")
    choices = _CHANGE_FIELDS[attribute]()
    q = Q(contact_id=OuterRef("pk"), field=attribute)
    if cond.get("from") is not None:
        q &= Q(old=_choice(cond["from"], ["", *choices], "from"))
    if cond.get("to") is not None:
        q &= Q(new=_choice(cond["to"], ["", *choices], "to"))
    start, end = _period(cond, ctx.now)
    q &= _in_period("changed_at", start, end)
    exists = Q(Exists(ScoreChange.objects.filter(q)))
    return exists if cond["operator"] == "changed" else ~exists


def _compile_value_on_date(cond: dict, ctx: _Context) -> Q:
    """The segment / stage / cluster a contact had at the end of a given day (or N days ago)."""
    from segments.models import ScoreChange

    attribute = _choice(cond.get("attribute"), list(_CHANGE_FIELDS), "attribute")
    value = _choice(cond.get("value"), _CHANGE_FIELDS[attribute]())
    moment = _moment(cond.get("date"), ctx.now, "date", end_of_day=isinstance(cond.get("date"), str))
    later = ScoreChange.objects.filter(
        contact_id=OuterRef("contact_id"),
        field=attribute,
        changed_at__gt=OuterRef("changed_at"),
        changed_at__lt=moment,
    )
    latest_is_value = ScoreChange.objects.filter(
        contact_id=OuterRef("pk"), field=attribute, changed_at__lt=moment, new=value
    ).filter(~Exists(later))
    q = Q(Exists(latest_is_value))
    return q if cond["operator"] == "eq" else ~q


# purchases ------------------------------------------------------------------------------------------


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
        return _buyers_having(ctx, cond, Count("pk"), op, value)
    # lt, lte, ne: contacts without purchases qualify too; a correlated count stays linear.
    counted = orders.order_by().values("contact_id").annotate(n=Count("pk")).values("n")
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
        return _buyers_having(ctx, cond, Sum("total"), op, value)
    orders = Order.objects.filter(_purchases(ctx, cond), contact_id=OuterRef("pk"))
    summed = orders.order_by().values("contact_id").annotate(s=Sum("total")).values("s")
    money = DecimalField(max_digits=14, decimal_places=2)
    return _compare(
        Coalesce(Subquery(summed, output_field=money), Value(Decimal(0)), output_field=money), op, value
    )


def _compile_last_purchase(cond: dict, ctx: _Context) -> Q:
    """Date of the last purchase, as EXISTS tests on the (contact, placed_at) index."""
    from contacts.models import Order

    op, now = cond["operator"], ctx.now
    purchases = Order.objects.exclude(status__in=Order.NOT_PURCHASES).filter(contact_id=OuterRef("pk"))

    def any_(**kwargs) -> Q:
        return Q(Exists(purchases.filter(**kwargs)))

    if op == "is_empty":
        return ~any_()
    if op == "is_not_empty":
        return any_()
    if op == "between":
        bounds = cond.get("value")
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise _Invalid("expected [from, to]")
        start, end = _moment(bounds[0], now), _moment(bounds[1], now, end_of_day=True)
        return any_(placed_at__gte=start, placed_at__lt=end) & ~any_(placed_at__gte=end)
    if op in ("since", "before"):
        moment = _moment(cond.get("value"), now)
    else:
        moment = now - dt.timedelta(days=_whole(cond.get("value")))
    if op in ("since", "within_last_days"):
        return any_(placed_at__gte=moment)
    return any_() & ~any_(placed_at__gte=moment)  # before, more_than_days_ago


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
        q = Q(contact_id=OuterRef("pk"), kind=event_kind, occurred_at__gte=ctx.now - dt.timedelta(days=days))
        if cond.get("message_id") is not None:
            q &= Q(message_id=_identifier(cond["message_id"], "message_id"))
        exists = Q(Exists(Event.objects.filter(q)))
        return exists if cond["operator"] == "within_last_days" else ~exists

    return compile_event


def _compile_reachable(cond: dict, ctx: _Context) -> Q:
    channel = _choice(cond.get("value"), ["email", "sms", "push"])
    q = Q(status="active", **{f"{channel}_consent": True})
    return q if cond["operator"] == "is" else ~q


# other segments and apps ---------------------------------------------------------------------------


def _compile_segment(cond: dict, ctx: _Context) -> Q:
    from segments.models import Segment

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


def _contact_statuses() -> list[str]:
    from contacts.models import Contact

    return list(Contact.Status.values)


_PERIOD = 'optional "period": {"last_days": N} or {"between": ["YYYY-MM-DD", "YYYY-MM-DD"]}'

FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in [
        FieldSpec("email", "Email", "Contact", TEXT_OPS, _text_column("email", True)),
        FieldSpec("first_name", "First name", "Contact", TEXT_OPS, _text_column("first_name", False)),
        FieldSpec("last_name", "Last name", "Contact", TEXT_OPS, _text_column("last_name", False)),
        FieldSpec("country", "Country (ISO code)", "Contact", TEXT_OPS, _text_column("country", False)),
        FieldSpec("locale", "Locale", "Contact", TEXT_OPS, _text_column("locale", False)),
        FieldSpec("status", "Status", "Contact", CHOICE_OPS, _choice_column("status", _contact_statuses)),
        FieldSpec(
            "email_consent", "Email consent", "Consent", ("is",), _bool_column("email_consent"), "true/false"
        ),
        FieldSpec(
            "sms_consent", "SMS consent", "Consent", ("is",), _bool_column("sms_consent"), "true/false"
        ),
        FieldSpec(
            "push_consent", "Push consent", "Consent", ("is",), _bool_column("push_consent"), "true/false"
        ),
        FieldSpec(
            "reachable",
            "Can receive on channel",
            "Consent",
            ("is", "is_not"),
            _compile_reachable,
            'value "email", "sms" or "push": status active and consent given',
        ),
        FieldSpec("signed_up_at", "Signed up", "Contact", DATE_OPS, _date_column("signed_up_at")),
        FieldSpec("created_at", "Created", "Contact", DATE_OPS, _date_column("created_at")),
        FieldSpec(
            "last_activity_at", "Last site activity", "Contact", DATE_OPS, _date_column("last_activity_at")
        ),
        FieldSpec(
            "tags", "Tags", "Contact", ("has_any", "has_all", "has_none"), _compile_tags, "list of tag names"
        ),
        FieldSpec(
            "attribute",
            "Custom attribute",
            "Contact",
            ("eq", "ne", "contains", "gt", "gte", "lt", "lte", "exists", "not_exists"),
            _compile_attribute,
            '"key": attribute name; numbers compare numerically',
            ("key",),
        ),
        FieldSpec(
            "rfm_segment",
            "RFM segment",
            "Scores",
            CHOICE_OPS,
            _score_choice("rfm_segment", _rfm_segment_names),
        ),
        FieldSpec("r_score", "R score (1-5)", "Scores", NUMBER_OPS, _score_number("r_score")),
        FieldSpec("f_score", "F score (1-5)", "Scores", NUMBER_OPS, _score_number("f_score")),
        FieldSpec("m_score", "M score (1-5)", "Scores", NUMBER_OPS, _score_number("m_score")),
        FieldSpec(
            "lifecycle_stage",
            "Lifecycle stage",
            "Scores",
            CHOICE_OPS,
            _score_choice("lifecycle_stage", _stage_names, missing_means="never"),
            "contacts not scored yet count as never purchased",
        ),
        FieldSpec(
            "clv_cluster", "Value cluster", "Scores", CHOICE_OPS, _score_choice("clv_cluster", _cluster_names)
        ),
        FieldSpec("predicted_clv", "Predicted CLV", "Scores", NUMBER_OPS, _score_number("predicted_clv")),
        FieldSpec("p_alive", "P(alive)", "Scores", NUMBER_OPS, _score_number("p_alive")),
        FieldSpec(
            "expected_purchases",
            "Expected purchases (horizon)",
            "Scores",
            NUMBER_OPS,
            _score_number("expected_purchases"),
        ),
        FieldSpec(
            "frequency", "Purchases (at last scoring)", "Scores", NUMBER_OPS, _score_number("frequency")
        ),
        FieldSpec(
            "monetary_total",
            "Total spent (at last scoring)",
            "Scores",
            NUMBER_OPS,
            _score_number("monetary_total"),
        ),
        FieldSpec(
            "recency_days",
            "Days since last purchase (at last scoring)",
            "Scores",
            NUMBER_OPS,
            _score_number("recency_days"),
        ),
        FieldSpec(
            "score_transition",
            "Changed segment / stage / cluster",
            "History",
            ("changed", "not_changed"),
            _compile_transition,
            '"attribute": segment|stage|cluster, optional "from", "to", ' + _PERIOD,
            ("attribute", "from", "to", "period"),
        ),
        FieldSpec(
            "score_on_date",
            "Segment / stage / cluster on a date",
            "History",
            ("eq", "ne"),
            _compile_value_on_date,
            '"attribute": segment|stage|cluster, "date": "YYYY-MM-DD" or {"days_ago": N}',
            ("attribute", "date"),
        ),
        FieldSpec(
            "purchase_count",
            "Number of purchases",
            "Purchases",
            COUNT_OPS,
            _compile_purchase_count,
            _PERIOD,
            ("period",),
        ),
        FieldSpec(
            "purchase_amount",
            "Amount spent",
            "Purchases",
            COUNT_OPS,
            _compile_purchase_amount,
            _PERIOD,
            ("period",),
        ),
        FieldSpec("last_purchase", "Last purchase date", "Purchases", DATE_OPS, _compile_last_purchase),
        FieldSpec(
            "bought_product",
            "Bought product (SKU)",
            "Purchases",
            ("any", "none"),
            _bought(("sku", "product__sku")),
            "list of SKUs; " + _PERIOD,
            ("period",),
        ),
        FieldSpec(
            "bought_category",
            "Bought from category",
            "Purchases",
            ("any", "none"),
            _bought(("product__category",)),
            "list of categories; " + _PERIOD,
            ("period",),
        ),
        FieldSpec(
            "bought_brand",
            "Bought brand",
            "Purchases",
            ("any", "none"),
            _bought(("product__brand",)),
            "list of brands; " + _PERIOD,
            ("period",),
        ),
        FieldSpec(
            "email_opened",
            "Opened an email",
            "Engagement",
            ("within_last_days", "not_within_last_days"),
            _event("email_open"),
            'value: days; optional "message_id"',
            ("message_id",),
        ),
        FieldSpec(
            "email_clicked",
            "Clicked in an email",
            "Engagement",
            ("within_last_days", "not_within_last_days"),
            _event("email_click"),
            'value: days; optional "message_id"',
            ("message_id",),
        ),
        FieldSpec(
            "site_visited",
            "Visited the site",
            "Engagement",
            ("within_last_days", "not_within_last_days"),
            _event("site_visit"),
            "value: days",
        ),
        FieldSpec(
            "event",
            "Any event kind",
            "Engagement",
            ("within_last_days", "not_within_last_days"),
            _event(None),
            '"kind": event kind; value: days; optional "message_id"',
            ("kind", "message_id"),
        ),
        FieldSpec(
            "segment",
            "Member of segment",
            "Segments",
            ("in", "not_in"),
            _compile_segment,
            "value: segment id",
        ),
        FieldSpec(
            "coupon",
            "Coupon",
            "Coupons",
            ("assigned", "not_assigned", "redeemed", "not_redeemed", "assigned_not_redeemed"),
            _compile_coupon,
            'optional "pool": pool id; ' + _PERIOD,
            ("pool", "period"),
        ),
        FieldSpec(
            "message",
            "Message sent / opened / clicked",
            "Engagement",
            ("sent", "opened", "clicked", "not_sent", "not_opened", "not_clicked"),
            _compile_message,
            'optional "template", "journey", "step" (ids); ' + _PERIOD,
            ("template", "journey", "step", "period"),
        ),
        FieldSpec(
            "journey",
            "Journey",
            "Journeys",
            ("enrolled", "not_enrolled"),
            _compile_journey,
            'value: journey id; optional "state": a state or list of states',
            ("state",),
        ),
    ]
}


# --- the compiler -------------------------------------------------------------------------------------


def _compile_node(node: Any, ctx: _Context, errors: list[tuple[str, str]], path: str) -> Q:
    if ctx.depth > MAX_DEPTH:
        errors.append((path, f"rules are nested deeper than {MAX_DEPTH} levels"))
        return Q()
    if not isinstance(node, dict):
        errors.append((path, f"expected a group or a condition (an object), got {node!r}"))
        return Q()
    if not node:
        return Q()  # empty tree: everyone
    if "op" in node:
        return _compile_group(node, ctx, errors, path)
    if "field" in node:
        return _compile_condition(node, ctx, errors, path)
    errors.append((path, 'expected "op" (and/or/not) with "rules", or "field" with "operator"'))
    return Q()


def _compile_group(node: dict, ctx: _Context, errors: list[tuple[str, str]], path: str) -> Q:
    op, rules = node.get("op"), node.get("rules")
    if op not in ("and", "or", "not"):
        errors.append((_join(path, "op"), f"unknown group operator {op!r}; use and, or, not"))
        return Q()
    if not isinstance(rules, list):
        errors.append((_join(path, "rules"), "expected a list of rules"))
        return Q()
    if op == "not" and len(rules) != 1:
        errors.append((_join(path, "rules"), f'"not" takes exactly one rule, got {len(rules)}'))
        return Q()
    inner = _Context(
        now=ctx.now, seen_segments=ctx.seen_segments, depth=ctx.depth + 1, contact_ids=ctx.contact_ids
    )
    parts = [
        _compile_node(rule, inner, errors, f"{_join(path, 'rules')}[{i}]") for i, rule in enumerate(rules)
    ]
    if op == "not":
        return ~parts[0] if parts[0] else Q(pk__in=[])
    if op == "and":
        combined = Q()
        for part in parts:
            combined &= part
        return combined
    if not parts:
        return Q(pk__in=[])  # an empty OR matches nobody
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part if (combined and part) else Q()
    return combined


def _compile_condition(node: dict, ctx: _Context, errors: list[tuple[str, str]], path: str) -> Q:
    name, op = node.get("field"), node.get("operator")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        errors.append((_join(path, "field"), f"unknown field {name!r}"))
        return Q()
    if op not in spec.operators:
        errors.append(
            (
                _join(path, "operator"),
                f"operator {op!r} is not valid for {name}; use one of {', '.join(spec.operators)}",
            )
        )
        return Q()
    try:
        return spec.compile(node, ctx)
    except _Invalid as exc:
        errors.append((_join(path, exc.key or "value"), exc.message))
        return Q()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def rules_compile(
    tree: Any,
    *,
    now: dt.datetime | None = None,
    segment_id: int | None = None,
    contact_ids: Iterable[int] | None = None,
) -> Q:
    """The Q filter of a rule tree over Contact; raises RuleError listing every problem found.

    `contact_ids`: the filter will only be asked about these contacts (it does not restrict to them by
    itself, callers still filter on pk); lets grouped subqueries skip everyone else's orders.
    """
    ctx = _Context(
        now=now or timezone.now(),
        seen_segments=frozenset({segment_id} if segment_id else ()),
        contact_ids=tuple(contact_ids) if contact_ids is not None else None,
    )
    errors: list[tuple[str, str]] = []
    q = _compile_node(tree if tree is not None else {}, ctx, errors, "")
    if errors:
        raise RuleError(errors)
    return q


def rules_errors(tree: Any, *, segment_id: int | None = None) -> list[tuple[str, str]]:
    try:
        rules_compile(tree, segment_id=segment_id)
    except RuleError as exc:
        return exc.errors
    return []


# One ready-to-edit condition per field, for the editor's "Add condition" picker.
EXAMPLES: dict[str, dict] = {
    "email": {"field": "email", "operator": "contains", "value": "@gmail.com"},
    "first_name": {"field": "first_name", "operator": "is_not_empty"},
    "last_name": {"field": "last_name", "operator": "is_not_empty"},
    "country": {"field": "country", "operator": "in", "value": ["DE", "AT"]},
    "locale": {"field": "locale", "operator": "startswith", "value": "de"},
    "status": {"field": "status", "operator": "eq", "value": "active"},
    "email_consent": {"field": "email_consent", "operator": "is", "value": True},
    "sms_consent": {"field": "sms_consent", "operator": "is", "value": True},
    "push_consent": {"field": "push_consent", "operator": "is", "value": True},
    "reachable": {"field": "reachable", "operator": "is", "value": "email"},
    "signed_up_at": {"field": "signed_up_at", "operator": "within_last_days", "value": 30},
    "created_at": {"field": "created_at", "operator": "since", "value": {"days_ago": 90}},
    "last_activity_at": {"field": "last_activity_at", "operator": "more_than_days_ago", "value": 60},
    "tags": {"field": "tags", "operator": "has_any", "value": ["vip"]},
    "attribute": {"field": "attribute", "key": "referral_activity", "operator": "eq", "value": "Dormant"},
    "rfm_segment": {"field": "rfm_segment", "operator": "in", "value": ["At Risk", "Can't Lose Them"]},
    "r_score": {"field": "r_score", "operator": "lte", "value": 2},
    "f_score": {"field": "f_score", "operator": "gte", "value": 4},
    "m_score": {"field": "m_score", "operator": "between", "value": [3, 5]},
    "lifecycle_stage": {"field": "lifecycle_stage", "operator": "in", "value": ["defecting"]},
    "clv_cluster": {"field": "clv_cluster", "operator": "in", "value": ["High", "Medium"]},
    "predicted_clv": {"field": "predicted_clv", "operator": "gte", "value": 100},
    "p_alive": {"field": "p_alive", "operator": "lt", "value": 0.5},
    "expected_purchases": {"field": "expected_purchases", "operator": "gte", "value": 1},
    "frequency": {"field": "frequency", "operator": "gte", "value": 2},
    "monetary_total": {"field": "monetary_total", "operator": "gte", "value": 500},
    "recency_days": {"field": "recency_days", "operator": "gt", "value": 180},
    "score_transition": {
        "field": "score_transition",
        "operator": "changed",
        "attribute": "cluster",
        "to": "Inactive",
        "period": {"last_days": 30},
    },
    "score_on_date": {
        "field": "score_on_date",
        "operator": "eq",
        "attribute": "cluster",
        "value": "High",
        "date": {"days_ago": 90},
    },
    "purchase_count": {
        "field": "purchase_count",
        "operator": "gte",
        "value": 2,
        "period": {"last_days": 365},
    },
    "purchase_amount": {
        "field": "purchase_amount",
        "operator": "gte",
        "value": 100,
        "period": {"last_days": 90},
    },
    "last_purchase": {"field": "last_purchase", "operator": "more_than_days_ago", "value": 90},
    "bought_product": {"field": "bought_product", "operator": "any", "value": ["SKU-1"]},
    "bought_category": {
        "field": "bought_category",
        "operator": "any",
        "value": ["shoes"],
        "period": {"last_days": 365},
    },
    "bought_brand": {"field": "bought_brand", "operator": "none", "value": ["Acme"]},
    "email_opened": {"field": "email_opened", "operator": "not_within_last_days", "value": 60},
    "email_clicked": {"field": "email_clicked", "operator": "within_last_days", "value": 30},
    "site_visited": {"field": "site_visited", "operator": "within_last_days", "value": 14},
    "event": {"field": "event", "operator": "within_last_days", "value": 7, "kind": "cart_add"},
    "segment": {"field": "segment", "operator": "in", "value": 1},
    "coupon": {"field": "coupon", "operator": "assigned_not_redeemed", "pool": 1},
    "message": {"field": "message", "operator": "opened", "period": {"last_days": 30}},
    "journey": {"field": "journey", "operator": "not_enrolled", "value": 1},
}
