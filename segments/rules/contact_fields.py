"""Conditions on the contact row itself: columns, tags, custom attributes, reachability."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db.models import Q
from django.db.models.functions import Lower

from segments.rules.contact_rows import ContactRows
from segments.rules.validation import _choice, _Invalid, _moment, _number, _text, _text_list, _whole

if TYPE_CHECKING:
    from segments.rules.compiler import _Context


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
    """Tag names compare case-insensitively ("vip" matches the tag "VIP")."""
    from contacts.models import Contact, Tag

    names = _text_list(cond.get("value"))
    through = Contact.tags.through

    # The (small) tags table is read once here: with the tag ids as literals PostgreSQL estimates from the
    # tag_id statistics how many contacts carry them and picks a hash join for common tags (a subquery
    # for the ids looked like "a few rows" and led to a nested loop over every tagged contact).
    wanted = {n.lower() for n in names}
    found = (
        Tag.objects.annotate(lowered=Lower("name")).filter(lowered__in=wanted).values_list("lowered", "pk")
    )
    ids_by_name: dict[str, list[int]] = {}
    for lowered, pk in found:
        ids_by_name.setdefault(lowered, []).append(pk)

    def has(tag_names: list[str]) -> Q:
        ids = [pk for name in tag_names for pk in ids_by_name.get(name.lower(), [])]
        if not ids:
            return Q(pk__in=[])  # no such tag: nobody has it
        return Q(ContactRows(through, Q(tag_id__in=ids)))

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
    """A custom attribute; text compares case-insensitively, numbers numerically, true/false exactly."""
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
    lookup = f"attributes__{key}__iexact" if isinstance(value, str) else f"attributes__{key}"
    q = present & Q(**{lookup: value})
    return ~q if op == "ne" else q


def _compile_reachable(cond: dict, ctx: _Context) -> Q:
    channel = _choice(cond.get("value"), ["email", "sms", "push"])
    q = Q(status="active", **{f"{channel}_consent": True})
    return q if cond["operator"] == "is" else ~q


def _contact_statuses() -> list[str]:
    from contacts.models import Contact

    return list(Contact.Status.values)
