"""The tick task asks JOURNEYS_TICK_WORKERS - 1 more workers to tick with it, and they never ask again."""

from __future__ import annotations

import pytest

from journeys import schedule, tasks
from journeys.models import Enrollment, StepRun
from journeys.services import journey_enter
from tests.journeys.conftest import contacts_make, journey_build

pytestmark = pytest.mark.django_db


def test_a_tick_asks_for_helpers_and_helpers_do_not_ask_again(monkeypatch, segment_everyone):
    journey = journey_build(
        "Helpers",
        {"entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"})},
        [],
    )
    contacts_make(3)
    journey_enter(journey=journey)
    asked = []
    monkeypatch.setattr(schedule, "TICK_WORKERS", 3)
    monkeypatch.setattr(tasks.journeys_tick_task, "apply_async", lambda **options: asked.append(options))
    assert tasks.journeys_tick_task() == 3
    assert [options["kwargs"] for options in asked] == [{"helpers": False}, {"helpers": False}]
    assert StepRun.objects.count() == 3 and Enrollment.objects.filter(state="completed").count() == 3
    asked.clear()
    assert tasks.journeys_tick_task(helpers=False) == 0  # a helper with nothing left to do
    assert asked == []
