"""Normalisers shared by the CSV import and the JSON API.

Each takes one raw value (string from a CSV cell, or a JSON value) and returns
the stored form, or raises ValueError with a message a marketer understands.
Empty input returns None ("not given"), so callers can tell "no value" from "false".
"""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

# Plain addresses (letters, digits, . _ % + - before @; a dotted domain); others go to Django's validator.
EMAIL_RE = re.compile(
    r"^[a-z0-9][a-z0-9._%+\-]{0,63}@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$"
)
E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
TRUE_WORDS = frozenset(
    {
        "1",
        "y",
        "yes",
        "true",
        "t",
        "on",
        "ja",
        "oui",
        "si",
        "x",
        "subscribed",
        "opted_in",
        "opt-in",
        "granted",
    }
)
FALSE_WORDS = frozenset(
    {
        "0",
        "n",
        "no",
        "false",
        "f",
        "off",
        "nein",
        "non",
        "unsubscribed",
        "not_subscribed",
        "opted_out",
        "opt-out",
        "pending",
        "denied",
        "never_subscribed",
    }
)
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%d %H:%M %z",
    "%Y-%m-%d %H:%M:%S %Z",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
)
CURRENCY_NOISE_RE = re.compile(r"[\s\u00a0'€$£¥]|EUR|USD|GBP|CHF", re.IGNORECASE)
AMOUNT_RE = re.compile(r"^-?\d+(\.\d+)?$")
CENT = Decimal("0.01")
CONTROL_RE = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline and CR are fine


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = str(value).strip()
    if "\x00" in text:  # PostgreSQL text columns cannot store it; it is never meant
        raise ValueError("Contains a NUL character (\\x00): the file looks damaged.")
    if not text.isprintable() and CONTROL_RE.search(
        text
    ):  # isprintable: the fast common case  # break spreadsheets (XLSX refuses them) and message headers
        raise ValueError("Contains a control character: the file looks damaged.")
    return text


def text_normalise(*, value: Any, max_length: int = 255) -> str:
    result = _text(value)
    if len(result) > max_length:
        raise ValueError(f"Too long ({len(result)} characters, at most {max_length}).")
    return result


def email_normalise(*, value: Any) -> str | None:
    result = _text(value).lower()
    if not result:
        return None
    if len(result) > 254:
        raise ValueError("Email address is too long.")
    if EMAIL_RE.match(result):  # the common case, fast
        return result
    try:
        validate_email(result)
    except ValidationError:
        raise ValueError(f"{result!r} is not a valid email address.")
    return result


def default_phone_prefix() -> str:
    prefix = getattr(settings, "WINBACK_DEFAULT_PHONE_PREFIX", "+49")
    return prefix if prefix.startswith("+") else f"+{prefix}"


def phone_normalise(*, value: Any, default_prefix: str | None = None) -> str | None:
    """To E.164: '+49 151 1234-5678', '0049…', '0151…' (national, gets the default prefix)."""
    raw = _text(value).lstrip("'")
    if not raw:
        return None
    digits = re.sub(r"[\s\-./()]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = (default_prefix or default_phone_prefix()) + digits[1:]
    elif not digits.startswith("+"):
        digits = "+" + digits
    if not E164_RE.match(digits):
        raise ValueError(f"{raw!r} is not a phone number (expected e.g. +4915112345678 or 0151 12345678).")
    return digits


def datetime_normalise(*, value: Any) -> datetime | None:
    """ISO 8601 and common shop formats, with or without time zone (naive = TIME_ZONE)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        raw = _text(value)
        if not raw:
            return None
        parsed = None
        candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            for fmt in DATE_FORMATS:
                try:
                    parsed = datetime.strptime(raw, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise ValueError(f"{raw!r} is not a date (expected e.g. 2024-11-03 14:22 or 03.11.2024).")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return parsed


def amount_normalise(*, value: Any, allow_negative: bool = False) -> Decimal | None:
    """'1,234.50', '1.234,50', '1234.5', '12,5', '€ 12' -> Decimal with two places."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount.")
    raw = str(value) if isinstance(value, int | float | Decimal) else _text(value)
    if not raw:
        return None
    cleaned = CURRENCY_NOISE_RE.sub("", raw)
    if "," in cleaned and "." in cleaned:
        if cleaned.rfind(",") > cleaned.rfind("."):  # 1.234,50
            cleaned = cleaned.replace(".", "").replace(",", ".")
        else:  # 1,234.50
            cleaned = cleaned.replace(",", "")
    elif "," in cleaned:
        if re.fullmatch(r"-?\d{1,3}(,\d{3})+", cleaned) and cleaned.count(",") > 1:
            cleaned = cleaned.replace(",", "")  # 1,234,567
        elif re.fullmatch(r"-?\d{1,3},\d{3}", cleaned):
            cleaned = cleaned.replace(",", "")  # 1,234 (thousands, not 1.234)
        else:
            cleaned = cleaned.replace(",", ".")  # 12,5
    elif cleaned.count(".") > 1:
        cleaned = cleaned.replace(".", "")  # 1.234.567
    if not AMOUNT_RE.match(cleaned):
        raise ValueError(f"{raw!r} is not an amount (expected e.g. 1234.50, 1,234.50 or 1.234,50).")
    try:
        amount = Decimal(cleaned).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not an amount.")
    if amount < 0 and not allow_negative:
        raise ValueError(f"{raw!r} is negative.")
    if abs(amount) >= Decimal("1e10"):
        raise ValueError(f"{raw!r} is too large.")
    return amount


INT_MAX = 2**31 - 1  # PositiveIntegerField / IntegerField on PostgreSQL
BIGINT_MAX = 2**63 - 1


def integer_normalise(*, value: Any, minimum: int = 0, maximum: int = INT_MAX) -> int | None:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number.")
    if isinstance(value, int):
        number = value
    else:
        raw = _text(value)
        if not raw:
            return None
        try:
            as_decimal = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a whole number.")
        if as_decimal != as_decimal.to_integral_value():
            raise ValueError(f"{raw!r} is not a whole number.")
        number = int(as_decimal)
    if number < minimum:
        raise ValueError(f"{number} is below {minimum}.")
    if number > maximum:
        raise ValueError(f"{number} is too large (at most {maximum}).")
    return number


def json_object_normalise(*, value: Any) -> dict | None:
    """A JSON object (event properties): no NUL characters anywhere (PostgreSQL jsonb refuses them)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("Expected an object.")
    if "\\u0000" in json.dumps(value):
        raise ValueError("Contains a NUL character (\\u0000).")
    return value


def boolean_normalise(*, value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raw = _text(value).lower()
    if not raw:
        return None
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ValueError(f"{raw!r} is not yes/no (expected yes, no, true, false, 1 or 0).")


def country_normalise(*, value: Any) -> str:
    raw = _text(value).upper()
    if raw and not re.fullmatch(r"[A-Z]{2}", raw):
        raise ValueError(f"{raw!r} is not a two-letter country code (e.g. DE).")
    return raw


def timezone_normalise(*, value: Any) -> str:
    raw = _text(value)
    if not raw:
        return ""
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{raw!r} is not a known time zone (e.g. Europe/Berlin).")
    return raw


def tags_normalise(*, value: Any) -> list[str]:
    items = [_text(v) for v in value] if isinstance(value, list | tuple) else _text(value).split(",")
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item:
            if len(item) > 100:
                raise ValueError(f"Tag {item[:20]!r}… is longer than 100 characters.")
            seen[item] = None
    return list(seen)
