"""End: the contact completes the journey."""

from __future__ import annotations

from journeys.steps.base import StepKind, StepResult


class End(StepKind):
    kind = "end"
    label = "End"
    fixed_branches = ()

    def run(self, *, step, enrollments, ctx):
        return {e.id: StepResult("end", exit=("completed", "end")) for e in enrollments}
