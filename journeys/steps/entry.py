"""Entry: a recurring segment filter. The entry service enrolls contacts; the step itself just moves on."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from journeys.steps.base import Names, StepKind, model_exists, reference_describe, require_int

PERIODS = ("seconds", "minutes", "hours", "days")
MODES = ("everyone", "new")
CONSENTS = ("", "email", "sms", "push")


def _parse_dt(config: dict, key: str) -> str | None:
    value = config.get(key)
    if not value:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is None:
        raise ValidationError({key: f"Not a date and time: {value!r} (use 2026-01-31T09:00:00+00:00)."})
    if timezone.is_naive(parsed):  # compared with aware times at every run: read it in the site's zone
        parsed = timezone.make_aware(parsed, zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return parsed.isoformat()


class Entry(StepKind):
    kind = "entry"
    label = "Entry (segment)"

    def validate(self, config: dict) -> dict:
        config = dict(config or {})
        cleaned: dict = {
            "segment_id": model_exists("segments", "Segment", config.get("segment_id"), "segment_id")
        }
        if config.get("crontab"):
            fields = str(config["crontab"]).split()
            if len(fields) != 5:
                raise ValidationError({"crontab": "Five fields: minute hour day-of-month month day-of-week."})
            cleaned["crontab"] = " ".join(fields)
        else:
            cleaned["every"] = require_int(config, "every", minimum=1)
            period = config.get("period", "days")
            if period not in PERIODS:
                raise ValidationError({"period": f"One of {', '.join(PERIODS)}."})
            cleaned["period"] = period
        mode = config.get("mode", "everyone")
        if mode not in MODES:
            raise ValidationError(
                {"mode": "'everyone' (everyone matching) or 'new' (only new since the last run)."}
            )
        cleaned["mode"] = mode
        consent = config.get("consent", "")
        if consent not in CONSENTS:
            raise ValidationError({"consent": "One of: (empty), email, sms, push."})
        cleaned["consent"] = consent
        cleaned["start_at"] = _parse_dt(config, "start_at")
        cleaned["end_at"] = _parse_dt(config, "end_at")
        return cleaned

    def describe(self, config: dict, names: Names | None = None) -> str:
        when = (
            f"cron {config['crontab']}"
            if config.get("crontab")
            else f"every {config.get('every')} {config.get('period')}"
        )
        return f"{reference_describe(config, 'segment_id', names)}, {when}, {config.get('mode', 'everyone')}"
