"""Is in segment: yes/no, one segment query for the whole batch."""

from __future__ import annotations

from journeys.steps.base import Names, StepKind, StepResult, model_exists, reference_describe


class InSegment(StepKind):
    kind = "in_segment"
    label = "Is in segment"
    fixed_branches = ("yes", "no")

    def validate(self, config: dict) -> dict:
        return {
            "segment_id": model_exists("segments", "Segment", (config or {}).get("segment_id"), "segment_id")
        }

    def run(self, *, step, enrollments, ctx):
        from segments.models import Segment
        from segments.selectors import segment_contains

        segment = Segment.objects.get(pk=step.config["segment_id"])
        inside = segment_contains(segment=segment, contact_ids=[e.contact_id for e in enrollments])
        return {e.id: StepResult("yes" if e.contact_id in inside else "no") for e in enrollments}

    def describe(self, config: dict, names: Names | None = None) -> str:
        return reference_describe(config, "segment_id", names)
