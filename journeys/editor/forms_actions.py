"""The side-panel forms of the actions, messages and flow steps, and FORMS: step kind -> form."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from journeys.editor.forms import (
    CHANNEL_LABELS,
    UNIT_SECONDS,
    UNITS,
    AttributeSplitForm,
    EngagementForm,
    EntryForm,
    HasPurchasedForm,
    InSegmentForm,
    StepForm,
)
from journeys.editor.pickers import WEEKDAY_CHOICES, PickerField


class AssignCouponForm(StepForm):
    pool = PickerField("pool", label="Give a code from the pool")
    error_fields = {"pool_id": "pool"}

    @classmethod
    def initial_from(cls, config):
        return {"pool": config.get("pool_id")}

    def to_config(self):
        return {"pool_id": self.cleaned_data["pool"].pk}


def message_form(channel: str) -> type[StepForm]:
    class MessageForm(StepForm):
        template = PickerField(f"template-{channel}", label=CHANNEL_LABELS[channel])
        error_fields = {"template_id": "template"}

        @classmethod
        def initial_from(cls, config):
            return {"template": config.get("template_id")}

        def to_config(self):
            return {"template_id": self.cleaned_data["template"].pk}

    MessageForm.__name__ = f"{channel.title()}MessageForm"
    return MessageForm


class SurveyForm(message_form("email")):
    survey = PickerField("survey", label="Survey")
    error_fields = {"template_id": "template", "survey_id": "survey"}

    @classmethod
    def initial_from(cls, config):
        return {"template": config.get("template_id"), "survey": config.get("survey_id")}

    def to_config(self):
        return {"template_id": self.cleaned_data["template"].pk, "survey_id": self.cleaned_data["survey"].pk}


class WaitForm(StepForm):
    mode = forms.ChoiceField(
        choices=[("duration", "For a while"), ("weekday_time", "Until a weekday and time"),
                 ("date", "Until a date")],
        widget=forms.RadioSelect, initial="duration", label="Wait",
    )  # fmt: skip
    amount = forms.IntegerField(min_value=0, required=False, initial=1, label="How long")
    unit = forms.ChoiceField(choices=UNITS, required=False, initial="days", label="Unit")
    weekday = forms.TypedChoiceField(choices=WEEKDAY_CHOICES, coerce=int, required=False, initial=0)
    time = forms.TimeField(required=False, initial="09:00", widget=forms.TimeInput(attrs={"type": "time"}))
    at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Date and time",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )  # fmt: skip
    error_fields = {"days": "amount", "seconds": "amount", "weekday": "weekday", "time": "time", "at": "at"}
    show_when = {
        "amount": "mode=duration", "unit": "mode=duration", "weekday": "mode=weekday_time",
        "time": "mode=weekday_time", "at": "mode=date",
    }  # fmt: skip

    @classmethod
    def initial_from(cls, config):
        if not config:
            return {}
        mode = config.get("mode", "duration")
        if mode == "weekday_time":
            return {"mode": mode, "weekday": config.get("weekday"), "time": config.get("time")}
        if mode == "date":
            from django.utils.dateparse import parse_datetime

            at = parse_datetime(config.get("at", ""))
            return {"mode": mode, "at": timezone.localtime(at).strftime("%Y-%m-%dT%H:%M") if at else None}
        seconds = int(config.get("seconds") or 0) or sum(
            int(config.get(k) or 0) * s for k, s in (("days", 86400), ("hours", 3600), ("minutes", 60))
        )
        for unit in ("days", "hours", "minutes"):
            if seconds and seconds % UNIT_SECONDS[unit] == 0:
                return {"mode": mode, "amount": seconds // UNIT_SECONDS[unit], "unit": unit}
        return {"mode": mode, "amount": max(seconds // 60, 0), "unit": "minutes"}

    def clean(self):
        cleaned = super().clean()
        mode = cleaned.get("mode")
        if mode == "duration" and not cleaned.get("amount"):
            self.add_error("amount", "A wait needs a duration longer than zero.")
        if mode == "date" and cleaned.get("at") is None:
            self.add_error("at", "Until when?")
        if mode == "weekday_time" and cleaned.get("time") is None:
            self.add_error("time", "At what time?")
        return cleaned

    def to_config(self):
        data = self.cleaned_data
        if data["mode"] == "duration":
            return {"mode": "duration", "seconds": data["amount"] * UNIT_SECONDS[data.get("unit") or "days"]}
        if data["mode"] == "weekday_time":
            return {
                "mode": "weekday_time",
                "weekday": data["weekday"],
                "time": data["time"].strftime("%H:%M"),
            }
        return {"mode": "date", "at": timezone.localtime(data["at"]).isoformat()}


class ABSplitForm(StepForm):
    error_fields = {"variants": "__all__"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, 5):
            self.fields[f"label_{i}"] = forms.CharField(required=False, max_length=60, label=f"Variant {i}")
            self.fields[f"percent_{i}"] = forms.DecimalField(
                required=False, min_value=0, max_value=100, decimal_places=2, label="percent"
            )

    def variant_rows(self):
        return [(self[f"label_{i}"], self[f"percent_{i}"]) for i in range(1, 5)]

    @classmethod
    def initial_from(cls, config):
        variants = config.get("variants") or [{"label": "A", "percent": 50}, {"label": "B", "percent": 50}]
        initial = {}
        for i, variant in enumerate(variants[:4], start=1):
            initial[f"label_{i}"], initial[f"percent_{i}"] = variant["label"], variant["percent"]
        return initial

    def to_config(self):
        data = self.cleaned_data
        return {
            "variants": [
                {"label": data[f"label_{i}"].strip(), "percent": float(data[f"percent_{i}"] or 0)}
                for i in range(1, 5)
                if (data.get(f"label_{i}") or "").strip()
            ]
        }


class UpdateContactForm(StepForm):
    action = forms.ChoiceField(
        choices=[("add_tag", "Add a tag"), ("remove_tag", "Remove a tag"),
                 ("set_attribute", "Set a custom attribute"),
                 ("set_consent", "Give or withdraw consent")],
    )  # fmt: skip
    tag = forms.CharField(required=False, max_length=100)
    attribute = forms.SlugField(required=False, label="Attribute name")
    value = forms.CharField(required=False, max_length=200, label="Attribute value")
    channel = forms.ChoiceField(
        choices=[("email", "Email"), ("sms", "SMS"), ("push", "Push")], required=False
    )
    give = forms.TypedChoiceField(
        choices=[("1", "Give consent"), ("0", "Withdraw consent")], coerce=lambda v: v == "1", required=False,
        label="Consent",
    )  # fmt: skip
    error_fields = {"tag": "tag", "attribute": "attribute", "channel": "channel", "action": "action"}
    show_when = {
        "tag": "action=add_tag remove_tag", "attribute": "action=set_attribute",
        "value": "action=set_attribute",
        "channel": "action=set_consent", "give": "action=set_consent",
    }  # fmt: skip

    @classmethod
    def initial_from(cls, config):
        if not config:
            return {}
        initial = {k: config.get(k) for k in ("action", "tag", "attribute", "channel")}
        if config.get("action") == "set_attribute":
            initial["value"] = config.get("value")
        elif config.get("action") == "set_consent":
            initial["give"] = "1" if config.get("value") else "0"
        return initial

    def to_config(self):
        data = self.cleaned_data
        action = data["action"]
        if action == "set_attribute":
            return {"action": action, "attribute": data.get("attribute"), "value": data.get("value") or ""}
        if action in ("add_tag", "remove_tag"):
            return {"action": action, "tag": data.get("tag") or ""}
        return {"action": action, "channel": data.get("channel"), "value": bool(data.get("give"))}


class ContactDataForm(StepForm):
    mode = forms.ChoiceField(
        choices=[("anonymize", "Anonymize the contact (keep orders, blank personal data)"),
                 ("delete", "Delete the contact")], widget=forms.RadioSelect, initial="anonymize",
    )  # fmt: skip

    @classmethod
    def initial_from(cls, config):
        return {"mode": config.get("mode", "anonymize")}

    def to_config(self):
        return {"mode": self.cleaned_data["mode"]}


class AudienceForm(StepForm):
    export = PickerField("export", label="Add to the ad audience")
    error_fields = {"export_id": "export"}

    @classmethod
    def initial_from(cls, config):
        return {"export": config.get("export_id")}

    def to_config(self):
        return {"export_id": self.cleaned_data["export"].pk}


FORMS: dict[str, type[StepForm]] = {
    "entry": EntryForm,
    "in_segment": InSegmentForm,
    "has_purchased": HasPurchasedForm,
    "engagement": EngagementForm,
    "attribute_split": AttributeSplitForm,
    "assign_coupon": AssignCouponForm,
    "send_email": message_form("email"),
    "send_sms": message_form("sms"),
    "send_push": message_form("push"),
    "survey": SurveyForm,
    "wait": WaitForm,
    "ab_split": ABSplitForm,
    "update_contact": UpdateContactForm,
    "contact_data": ContactDataForm,
    "audience_add": AudienceForm,
    "end": StepForm,
}
