"""Journey services: the one door for writes (see docs/ARCHITECTURE.md)."""

from journeys.services.conversions import conversions_record
from journeys.services.engine import TickReport, enrollments_claim, journeys_tick
from journeys.services.entry import holdout_bucket, journey_enter
from journeys.services.lifecycle import (
    journey_archive,
    journey_delete,
    journey_graph_validate,
    journey_migrate,
    journey_pause,
    journey_publish,
    journey_resume,
    journey_schedule_sync,
)

__all__ = [
    "TickReport",
    "conversions_record",
    "enrollments_claim",
    "holdout_bucket",
    "journey_archive",
    "journey_delete",
    "journey_enter",
    "journey_graph_validate",
    "journey_migrate",
    "journey_pause",
    "journey_publish",
    "journey_resume",
    "journey_schedule_sync",
    "journeys_tick",
]
