"""manage.py score: foreground run, as-of parsing, clear errors."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from segments.management.commands.score import as_of_parse
from segments.models import ContactScore, ScoringRun
from tests.segments.helpers import contact, orders

pytestmark = pytest.mark.django_db


def test_score_command_runs_in_the_foreground_and_prints_phases():
    buyer = contact()
    orders(buyer, (10, 50))
    out, err = StringIO(), StringIO()
    call_command("score", "--as-of", "2026-06-01", stdout=out, stderr=err)
    text = out.getvalue()
    assert "read purchases:" in text and "write scores:" in text and "Done in" in text
    run = ScoringRun.objects.get()
    assert run.status == "done" and run.trigger == "command"
    assert run.as_of == dt.datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=dt.UTC)
    assert ContactScore.objects.get(contact=buyer).recency_days == 10


def test_as_of_parsing():
    assert as_of_parse("2024-03-01T12:00+02:00") == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert as_of_parse("2024-03-01T12:00") == dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)  # shop zone UTC
    with pytest.raises(CommandError, match="not a date like"):
        as_of_parse("yesterday")


def test_future_as_of_is_refused():
    with pytest.raises(CommandError, match="in the future"):
        call_command("score", "--as-of", "2999-01-01", stdout=StringIO(), stderr=StringIO())
