from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contacts.services import normalise as n


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Anna@Example.COM ", "anna@example.com"),
        ("", None),
        (None, None),
        ("o'neil@example.ie", "o'neil@example.ie"),
    ],
)
def test_email_is_lower_cased_and_stripped(raw, expected):
    assert n.email_normalise(value=raw) == expected


@pytest.mark.parametrize("raw", ["not-an-email", "a@b", "two@@example.com", "space in@example.com"])
def test_bad_email_is_rejected(raw):
    with pytest.raises(ValueError, match="not a valid email"):
        n.email_normalise(value=raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 151 1234-5678", "+4915112345678"),
        ("0049 151 12345678", "+4915112345678"),
        ("0151 12345678", "+4915112345678"),
        ("(0151) 123.456.78", "+4915112345678"),
        ("'+4915112345678", "+4915112345678"),
        ("4915112345678", "+4915112345678"),
        ("", None),
    ],
)
def test_phone_becomes_e164_with_default_prefix(raw, expected):
    assert n.phone_normalise(value=raw) == expected


def test_phone_default_prefix_comes_from_settings(settings):
    settings.WINBACK_DEFAULT_PHONE_PREFIX = "+43"
    assert n.phone_normalise(value="0664 1234567") == "+436641234567"


@pytest.mark.parametrize("raw", ["12ab", "+0123456", "123"])
def test_bad_phone_is_rejected(raw):
    with pytest.raises(ValueError, match="not a phone number"):
        n.phone_normalise(value=raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-11-03", datetime(2024, 11, 3, tzinfo=UTC)),
        ("2024-11-03 14:22", datetime(2024, 11, 3, 14, 22, tzinfo=UTC)),
        ("2024-11-03T14:22:10Z", datetime(2024, 11, 3, 14, 22, 10, tzinfo=UTC)),
        ("2024-11-03 15:22:10 +0100", datetime(2024, 11, 3, 14, 22, 10, tzinfo=UTC)),
        ("2024-11-03T15:22:10+01:00", datetime(2024, 11, 3, 14, 22, 10, tzinfo=UTC)),
        ("03.11.2024", datetime(2024, 11, 3, tzinfo=UTC)),
        ("03.11.2024 14:22", datetime(2024, 11, 3, 14, 22, tzinfo=UTC)),
        ("03/11/2024", datetime(2024, 11, 3, tzinfo=UTC)),
    ],
)
def test_dates_with_or_without_time_zone(raw, expected):
    assert n.datetime_normalise(value=raw) == expected


def test_naive_dates_are_in_the_configured_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    assert n.datetime_normalise(value="2024-07-01 12:00") == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["31.31.2024", "yesterday", "2024-13-01"])
def test_bad_date_is_rejected(raw):
    with pytest.raises(ValueError, match="not a date"):
        n.datetime_normalise(value=raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("1234.5", "1234.50"),
        ("12,5", "12.50"),
        ("1,234", "1234.00"),
        ("1.234.567,89", "1234567.89"),
        ("€ 12.00", "12.00"),
        ("12.00 EUR", "12.00"),
        (19.9, "19.90"),
        ("", None),
    ],
)
def test_amount_forms(raw, expected):
    result = n.amount_normalise(value=raw)
    assert result == (Decimal(expected) if expected else None)


@pytest.mark.parametrize("raw", ["twelve", "1.2.3,4,5", "-3"])
def test_bad_amount_is_rejected(raw):
    with pytest.raises(ValueError):
        n.amount_normalise(value=raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes", True),
        ("No", False),
        ("TRUE", True),
        ("0", False),
        ("1", True),
        (True, True),
        ("", None),
        ("ja", True),
    ],
)
def test_consent_booleans(raw, expected):
    assert n.boolean_normalise(value=raw) is expected


def test_unknown_boolean_is_rejected():
    with pytest.raises(ValueError, match="yes/no"):
        n.boolean_normalise(value="maybe")
