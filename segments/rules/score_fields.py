"""Conditions on the scores (RFM, lifecycle, CLV) and their change history."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q

from segments.rules.validation import _choice, _in_period, _Invalid, _moment, _number, _period, _text_list

if TYPE_CHECKING:
    from segments.rules.compiler import _Context


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
