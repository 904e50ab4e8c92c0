"""Review of the render budget: width arguments a filter reads differently from the check."""

from __future__ import annotations

import pytest

from messaging import sandbox


@pytest.mark.parametrize(
    "source",
    [
        # A float literal: the filter does int(1e12) and builds the string before any length check.
        "{{ contact.first_name|ljust:1e12 }}",
        "{{ contact.first_name|rjust:12345678.0 }}",
        "{{ contact.first_name|center:1e12 }}",
        # floatformat strips its g/u suffixes before int(): a precision of a billion digits.
        '{{ 1.5|floatformat:"1000000000g" }}',
        '{{ 1.5|floatformat:"1000000000u" }}',
        '{{ 1.5|floatformat:"-1000000000gu" }}',
        # A number from contact data (JSON attributes hold floats).
        "{{ contact.first_name|ljust:contact.attributes.n }}",
    ],
)
def test_width_arguments_are_refused_before_the_filter_runs(source):
    context = {"contact": {"first_name": "Ada", "attributes": {"n": 1e12}}}
    with pytest.raises(sandbox.RenderLimitExceeded, match="wider than"):
        sandbox.render(source, context)


def test_ordinary_widths_still_work():
    assert sandbox.render('{{ 1.25|floatformat:"2g" }}|{{ "a"|ljust:3.0 }}|', {}) == "1.25|a  |"
