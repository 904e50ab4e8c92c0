"""The side panel's base form and the forms of the entry and the conditions (one per step kind).

Each form reads a step's configuration (initial_from) and writes exactly the configuration the step kind
validates and the engine reads (to_config); services.step_configure then runs the kind's own validate().
The action, message and flow forms are in journeys/editor/forms_actions.py; FORMS maps kinds to forms."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from journeys.editor.pickers import (
    WEEKDAY_CHOICES,
    PickerField,
    crontab_next_runs,
    weekly_crontab,
    weekly_read,
)
from journeys.steps.attribute_split import FIELDS as SPLIT_FIELDS

UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
UNITS = [("minutes", "minutes"), ("hours", "hours"), ("days", "days")]
CHANNEL_LABELS = {"email": "Email template", "sms": "SMS template", "push": "Web push template"}


class StepForm(forms.Form):
    name = forms.CharField(max_length=150, label="Name on the canvas")
    # config key -> form field, for errors the step kind's validate() reports.
    error_fields: dict[str, str] = {}
    # field -> "other_field=value": shown only when the other field has that value.
    show_when: dict[str, str] = {}

    def rows(self) -> list[tuple]:
        return [(self[name], self.show_when.get(name, "")) for name in self.fields]

    def __init__(self, *args, step=None, draft_steps=(), **kwargs):
        self.step = step
        self.draft_steps = list(draft_steps)
        super().__init__(*args, **kwargs)

    @classmethod
    def initial_from(cls, config: dict) -> dict:
        return {}

    def to_config(self) -> dict:
        return {}

    def add_config_errors(self, error) -> None:
        if hasattr(error, "error_dict"):
            for key, messages in error.message_dict.items():
                field = self.error_fields.get(key, key)
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.add_error(None, error.messages)


class EntryForm(StepForm):
    segment = PickerField("segment", label="Contacts of the segment")
    schedule = forms.ChoiceField(
        choices=[("interval", "Every N minutes, hours or days"), ("weekly", "Every week on a day at a time"),
                 ("crontab", "Crontab (advanced)")],
        widget=forms.RadioSelect, initial="interval", label="Check the segment",
    )  # fmt: skip
    every = forms.IntegerField(min_value=1, required=False, initial=1)
    period = forms.ChoiceField(choices=UNITS, required=False, initial="days")
    weekday = forms.TypedChoiceField(choices=WEEKDAY_CHOICES, coerce=int, required=False, initial=0)
    time = forms.TimeField(required=False, initial="09:00", widget=forms.TimeInput(attrs={"type": "time"}))
    crontab = forms.CharField(required=False, help_text="minute hour day-of-month month day-of-week")
    mode = forms.ChoiceField(
        choices=[("everyone", "Everyone in the segment (who has not entered yet)"),
                 ("new", "Only contacts new in the segment since the last check")],
        widget=forms.RadioSelect, initial="everyone", label="Who enters",
    )  # fmt: skip
    consent = forms.ChoiceField(
        choices=[("", "No consent needed"), ("email", "Email consent"), ("sms", "SMS consent"),
                 ("push", "Push consent")], required=False, label="Only contacts with",
    )  # fmt: skip
    start_at = forms.DateTimeField(
        required=False, label="Start on (optional)", input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    end_at = forms.DateTimeField(
        required=False, label="Stop taking contacts after (optional)", input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    error_fields = {
        "segment_id": "segment", "every": "every", "period": "period", "crontab": "crontab",
        "start_at": "start_at", "end_at": "end_at",
    }  # fmt: skip
    show_when = {
        "every": "schedule=interval", "period": "schedule=interval", "weekday": "schedule=weekly",
        "time": "schedule=weekly", "crontab": "schedule=crontab",
    }  # fmt: skip

    @classmethod
    def initial_from(cls, config):
        initial = {"segment": config.get("segment_id"), "mode": config.get("mode", "everyone")}
        initial["consent"] = config.get("consent", "")
        for key in ("start_at", "end_at"):
            moment = parse_datetime(str(config.get(key) or ""))
            if moment is not None:
                initial[key] = timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")
        if config.get("crontab"):
            weekly = weekly_read(config["crontab"])
            if weekly:
                initial.update(schedule="weekly", weekday=weekly[0], time=weekly[1])
            else:
                initial.update(schedule="crontab", crontab=config["crontab"])
        elif config.get("every"):
            period = config.get("period", "days")
            every = int(config["every"])
            if period == "seconds":  # not offered: show it in minutes when it divides
                every, period = max(every // 60, 1), "minutes"
            initial.update(schedule="interval", every=every, period=period)
        return initial

    def clean(self):
        cleaned = super().clean()
        schedule = cleaned.get("schedule")
        if schedule == "interval" and not cleaned.get("every"):
            self.add_error("every", "How often? Give a number.")
        if schedule == "weekly" and cleaned.get("time") is None:
            self.add_error("time", "At what time?")
        if cleaned.get("start_at") and cleaned.get("end_at") and cleaned["end_at"] <= cleaned["start_at"]:
            self.add_error("end_at", "Stop after the start.")
        if schedule == "crontab":
            try:
                crontab_next_runs(cleaned.get("crontab") or "", count=1)
            except (ValueError, KeyError, IndexError) as exc:
                self.add_error("crontab", f"Not a valid crontab: {exc}")
        return cleaned

    def to_config(self):
        data = self.cleaned_data
        config = {
            "segment_id": data["segment"].pk,
            "mode": data["mode"],
            "consent": data.get("consent") or "",
        }
        if data["schedule"] == "interval":
            config.update(every=data["every"], period=data.get("period") or "days")
        elif data["schedule"] == "weekly":
            config["crontab"] = weekly_crontab(data["weekday"], data["time"])
        else:
            config["crontab"] = " ".join(data["crontab"].split())
        for key in ("start_at", "end_at"):
            if data.get(key):
                config[key] = timezone.localtime(data[key]).isoformat()
        return config

    def next_runs(self) -> list:
        config = self.step.config if self.step is not None else {}
        if not config.get("crontab"):
            return []
        try:
            return crontab_next_runs(config["crontab"])
        except (ValueError, KeyError, IndexError):
            return []


class InSegmentForm(StepForm):
    segment = PickerField("segment", label="Is the contact in the segment")
    error_fields = {"segment_id": "segment"}

    @classmethod
    def initial_from(cls, config):
        return {"segment": config.get("segment_id")}

    def to_config(self):
        return {"segment_id": self.cleaned_data["segment"].pk}


class HasPurchasedForm(StepForm):
    more_than = forms.IntegerField(min_value=0, initial=0, label="More than this many orders")
    window = forms.ChoiceField(
        choices=[("days", "In the last N days"), ("since_entry", "Since they entered the journey")],
        widget=forms.RadioSelect, initial="since_entry",
    )  # fmt: skip
    days = forms.IntegerField(min_value=1, required=False, label="Days")
    error_fields = {"days": "days", "more_than": "more_than"}
    show_when = {"days": "window=days"}

    @classmethod
    def initial_from(cls, config):
        if not config:
            return {}
        window = "since_entry" if config.get("since_entry") else "days"
        return {"more_than": config.get("more_than", 0), "window": window, "days": config.get("days")}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("window") == "days" and not cleaned.get("days"):
            self.add_error("days", "How many days back?")
        return cleaned

    def to_config(self):
        data = self.cleaned_data
        if data["window"] == "since_entry":
            return {"more_than": data["more_than"], "since_entry": True}
        return {"more_than": data["more_than"], "days": data["days"]}


class EngagementForm(StepForm):
    message_step = forms.ChoiceField(label="The message sent by the step")
    event = forms.ChoiceField(
        choices=[("opened", "Opened it"), ("clicked", "Clicked a link in it")], widget=forms.RadioSelect,
        initial="opened", label="Yes when the contact",
    )  # fmt: skip
    error_fields = {"step_key": "message_step"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from journeys.steps import registry

        self.fields["message_step"].choices = [("", "— pick a message step —")] + [
            (s.key, f"{s.name} ({registry[s.kind].label})")
            for s in self.draft_steps
            if getattr(registry.get(s.kind), "is_message", False)
        ]

    @classmethod
    def initial_from(cls, config):
        return {"message_step": config.get("step_key"), "event": config.get("event", "opened")}

    def to_config(self):
        return {"step_key": self.cleaned_data["message_step"], "event": self.cleaned_data["event"]}


class AttributeSplitForm(StepForm):
    field = forms.ChoiceField(
        choices=[*((f, f"Contact {f}") for f in SPLIT_FIELDS), ("attribute", "A custom attribute")],
        label="Split by",
    )
    attribute = forms.SlugField(required=False, label="Custom attribute name")
    values = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), label="Values, one per line (a branch each)",
        help_text="Everyone else takes the “default” branch.",
    )  # fmt: skip
    error_fields = {"values": "values", "field": "field"}
    show_when = {"attribute": "field=attribute"}

    @classmethod
    def initial_from(cls, config):
        if not config:
            return {}
        field = config.get("field", "")
        initial = {"values": "\n".join(config.get("values", []))}
        if field.startswith("attributes."):
            initial.update(field="attribute", attribute=field.split(".", 1)[1])
        else:
            initial["field"] = field
        return initial

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("field") == "attribute" and not cleaned.get("attribute"):
            self.add_error("attribute", "Which attribute?")
        return cleaned

    def to_config(self):
        data = self.cleaned_data
        field = f"attributes.{data['attribute']}" if data["field"] == "attribute" else data["field"]
        values = [v.strip() for v in data["values"].splitlines() if v.strip()]
        return {"field": field, "values": values}


def form_for(step, data=None, draft_steps=()) -> StepForm:
    from journeys.editor.forms_actions import FORMS

    form_class = FORMS.get(step.kind, StepForm)
    initial = {"name": step.name, **form_class.initial_from(step.config or {})}
    return form_class(data, initial=initial, step=step, draft_steps=draft_steps, prefix="step")
