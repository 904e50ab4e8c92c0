"""The hourly rollup is a code-owned beat entry; its task refreshes the rollups and journey snapshots."""

import pytest
from django.conf import settings

from reports.models import DailyCount, JourneySnapshot
from reports.tasks import rollups_refresh_task
from tests.reports.data import known_journey_build

pytestmark = pytest.mark.django_db


def test_beat_runs_the_rollup_every_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["reports-rollups"]
    assert entry["task"] == "reports.tasks.rollups_refresh" == rollups_refresh_task.name
    assert entry["schedule"] == 3600.0


def test_task_writes_rollups_and_snapshots():
    known = known_journey_build()
    assert rollups_refresh_task() > 0
    assert DailyCount.objects.filter(metric="stage").exists()
    snapshot = JourneySnapshot.objects.get(journey=known.journey)
    assert snapshot.data["entered"] == 100 and snapshot.data["inactive_reengagement"]
