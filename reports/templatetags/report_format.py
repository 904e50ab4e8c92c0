"""Numbers as marketers read them: thousands separators, currency, percentages with one decimal."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.conf import settings

register = template.Library()
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def _number(value, decimals: int) -> str:
    return f"{float(value):,.{decimals}f}"


@register.filter
def num(value, decimals: int = 0) -> str:
    if value is None or value == "":
        return "–"
    return _number(value, int(decimals))


@register.filter
def money(value) -> str:
    if value is None:
        return "–"
    amount = Decimal(str(value))
    symbol = SYMBOLS.get(settings.REPORTS_CURRENCY, settings.REPORTS_CURRENCY + " ")
    sign = "−" if amount < 0 else ""
    return f"{sign}{symbol}{_number(abs(amount), 2)}"


@register.filter
def pct(value) -> str:
    """A fraction as a percentage with one decimal: 0.1234 -> '12.3 %'."""
    if value is None:
        return "–"
    return f"{float(value) * 100:,.1f} %"


@register.filter
def points(value) -> str:
    """A difference of two rates in percentage points, signed: 0.031 -> '+3.1 pts'."""
    if value is None:
        return "–"
    return f"{float(value) * 100:+,.1f} pts".replace("-", "−")


@register.filter
def pvalue(value) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.simple_tag
def currency_code() -> str:
    return settings.REPORTS_CURRENCY
