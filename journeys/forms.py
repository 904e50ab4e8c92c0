"""Forms for the admin's "move contacts to another version" page (journeys.admin.JourneyAdmin)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from journeys.models import JourneyVersion, Step
from journeys.steps import registry


@dataclass
class OccupiedStep:
    """A step of the source version where contacts are in flight (step None: they have no step)."""

    step: Step | None
    count: int

    @property
    def field_name(self) -> str:
        return f"step_{self.step.pk}" if self.step else ""

    @property
    def kind_label(self) -> str:
        if self.step is None:
            return ""
        kind = registry.get(self.step.kind)
        return kind.label if kind else self.step.kind


class VersionsForm(forms.Form):
    """Step 1 (GET): which version to move contacts from, and to which."""

    source = forms.TypedChoiceField(label="Move contacts in flight on", coerce=int)
    target = forms.TypedChoiceField(label="to", coerce=int)

    def __init__(
        self, *args, versions: list[JourneyVersion], counts: dict[int, int], current_id: int | None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [
            (v.pk, f"version {v.number} ({counts[v.pk]} in flight)") for v in versions if counts.get(v.pk)
        ]
        self.fields["target"].choices = [
            (v.pk, f"version {v.number}{' (current)' if v.pk == current_id else ''}") for v in versions
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("source") is not None and cleaned.get("source") == cleaned.get("target"):
            raise forms.ValidationError("Pick two different versions.")
        return cleaned


class StepMappingForm(forms.Form):
    """Step 2 (POST): one select per occupied step of the source version, listing the target's steps."""

    def __init__(self, *args, occupied: list[OccupiedStep], target_steps: list[Step], **kwargs):
        super().__init__(*args, **kwargs)
        by_key = {s.key: s.pk for s in target_steps}
        choices = [("", "---------"), *((s.pk, str(s)) for s in target_steps)]
        for row in occupied:
            if row.step is not None:
                self.fields[row.field_name] = forms.TypedChoiceField(
                    label=str(row.step),
                    choices=choices,
                    coerce=int,
                    required=False,
                    empty_value=None,
                    initial=by_key.get(row.step.key),
                )
        # (occupied step, its select or None when the contacts have no step), in row order.
        self.rows = [(row, self[row.field_name] if row.step else None) for row in occupied]

    def step_mapping(self) -> dict[int, int]:
        """{old step id: new step id} for the rows the marketer mapped (empty rows are left out)."""
        return {
            int(name.removeprefix("step_")): value
            for name, value in self.cleaned_data.items()
            if value is not None
        }
