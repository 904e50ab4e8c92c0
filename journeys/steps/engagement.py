"""Message engagement: opened / clicked the message a given step sent to this enrollment; yes/no."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from journeys.steps.base import Names, StepKind, StepResult, require

EVENTS = {"opened": "opened_at", "clicked": "clicked_at"}


class MessageEngagement(StepKind):
    kind = "engagement"
    label = "Message engagement"
    fixed_branches = ("yes", "no")

    def validate(self, config: dict) -> dict:
        config = dict(config or {})
        event = config.get("event", "opened")
        if event not in EVENTS:
            raise ValidationError({"event": "opened or clicked."})
        # The message step is named by its key (stable across versions).
        return {"step_key": str(require(config, "step_key")), "event": event}

    def run(self, *, step, enrollments, ctx):
        from journeys.models import Step
        from messaging.models import Message

        # Every published copy of the message step (keys are stable across versions): a contact
        # migrated from an older version was mailed by that version's copy.
        source = Step.objects.filter(
            journey_id=step.journey_id, version__isnull=False, key=step.config["step_key"]
        ).values("id")
        engaged = set(
            Message.objects.filter(
                enrollment_id__in=[e.id for e in enrollments],
                step_id__in=source,
                **{f"{EVENTS[step.config['event']]}__isnull": False},
            ).values_list("enrollment_id", flat=True)
        )
        return {e.id: StepResult("yes" if e.id in engaged else "no") for e in enrollments}

    def describe(self, config: dict, names: Names | None = None) -> str:
        return f"{config.get('event')} the message of step {config.get('step_key')}"
