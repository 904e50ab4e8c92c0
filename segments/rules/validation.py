"""Reading and checking the values of a condition; every problem becomes a (path, message) pair."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
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
