"""A step kind that takes its time, so a test can kill a worker while it is inside a batch."""

from __future__ import annotations

import time

from journeys.steps.base import StepKind, StepResult


class Pause(StepKind):
    kind = "test_pause"
    label = "Pause (tests)"

    def validate(self, config: dict) -> dict:
        return {"seconds": float((config or {}).get("seconds", 1))}

    def run(self, *, step, enrollments, ctx):
        time.sleep(step.config["seconds"])
        return {e.id: StepResult("next") for e in enrollments}
