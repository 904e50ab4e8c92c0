"""The journey change form and its draft-graph inlines (steps and edges)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from journeys.models import (
    Edge,
    Journey,
    Step,
)
from journeys.steps import KIND_CHOICES, registry

# --- Journey and its draft graph -------------------------------------------------------------


class StepForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=KIND_CHOICES)

    class Meta:
        model = Step
        fields = ["name", "kind", "config", "x", "y", "key"]

    def clean(self):
        cleaned = super().clean()
        kind = registry.get(cleaned.get("kind") or "")
        if kind is not None and "config" in cleaned:
            try:
                cleaned["config"] = kind.validate(cleaned["config"] or {})
            except ValidationError as exc:
                raise ValidationError({"config": exc.messages}) from None
        return cleaned


class DraftInlineMixin:
    """Inlines edit the draft graph only (version NULL); published versions are frozen."""

    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(version__isnull=True)


class StepInline(DraftInlineMixin, admin.TabularInline):
    model = Step
    form = StepForm
    fields = ["name", "kind", "config", "x", "y", "key"]
    # The key is internal (maps contacts between versions). Read-only, so each new row gets its own
    # generated key; as a form field, "Add another" copied one default key into every new row.
    readonly_fields = ["key"]
    verbose_name = "step (draft)"
    verbose_name_plural = "Steps of the draft (publish to freeze a new version)"


class EdgeInline(DraftInlineMixin, admin.TabularInline):
    model = Edge
    fields = ["from_step", "branch", "to_step"]
    verbose_name = "edge (draft)"
    verbose_name_plural = "Edges of the draft: from a step along a branch (next, yes/no, variant…) to a step"

    def get_queryset(self, request):
        # Each row shows str(edge), which names both steps.
        return super().get_queryset(request).select_related("from_step", "to_step")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name not in ("from_step", "to_step"):
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        journey_id = request.resolver_match.kwargs.get("object_id")
        kwargs["queryset"] = Step.objects.filter(journey_id=journey_id, version__isnull=True)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        # Two selects per edge form: read the draft's steps once per request, not once per select.
        cache = request.__dict__.setdefault("_journey_draft_step_choices", {})
        if journey_id not in cache:
            cache[journey_id] = [("", field.empty_label), *((s.pk, str(s)) for s in field.queryset)]
        field.choices = cache[journey_id]
        return field


class JourneyForm(forms.ModelForm):
    """Settings that only work in pairs: half of one was silently ignored (or, for re-entry,
    meant 're-enter at every run')."""

    class Meta:
        model = Journey
        fields = [
            "name",
            "description",
            "reentry",
            "reentry_days",
            "conversion_window_days",
            "holdout_percent",
            "quiet_hours_start",
            "quiet_hours_end",
            "frequency_cap_messages",
            "frequency_cap_days",
            "frequency_cap_action",
        ]

    def clean(self):
        cleaned = super().clean()
        errors = {}
        if cleaned.get("reentry") == Journey.Reentry.AFTER_DAYS and not cleaned.get("reentry_days"):
            errors["reentry_days"] = "Give the number of days (at least 1) for 'after N days'."
        pairs = [
            ("frequency_cap_messages", "frequency_cap_days", "Set both the number of messages and the days."),
            ("quiet_hours_start", "quiet_hours_end", "Set both the start and the end of the quiet hours."),
        ]
        for first, second, message in pairs:
            has_first, has_second = cleaned.get(first) is not None, cleaned.get(second) is not None
            if has_first != has_second:
                errors[second if has_first else first] = message
        if errors:
            raise ValidationError(errors)
        return cleaned
