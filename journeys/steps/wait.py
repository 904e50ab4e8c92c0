"""Wait: a duration, until a weekday and time in the contact's time zone, or until a date.

Counted from the moment the contact arrived at the step (enrollment.step_entered_at), so a
retried or paused tick never restarts a wait.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from journeys.steps.base import Names, StepKind, StepResult, contact_zone, duration_human, require_int

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _parse_time(value) -> time:
    try:
        hours, minutes = str(value).split(":")[:2]
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ValidationError({"time": f"Use HH:MM, got {value!r}."})


def next_weekday_time(after: datetime, zone, weekday: int, at: time) -> datetime:
    local = after.astimezone(zone)
    days = (weekday - local.weekday()) % 7
    candidate = datetime.combine(local.date() + timedelta(days=days), at, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=days + 7), at, tzinfo=zone)
    return candidate


class Wait(StepKind):
    kind = "wait"
    label = "Wait"

    def validate(self, config: dict) -> dict:
        config = dict(config or {})
        mode = config.get("mode", "duration")
        if mode == "duration":
            seconds = (
                int(config.get("days") or 0) * 86400
                + int(config.get("hours") or 0) * 3600
                + int(config.get("minutes") or 0) * 60
                + int(config.get("seconds") or 0)
            )
            if seconds <= 0:
                raise ValidationError({"days": "Give a positive duration (days, hours, minutes or seconds)."})
            return {"mode": mode, "seconds": seconds}
        if mode == "weekday_time":
            weekday = config.get("weekday")
            if isinstance(weekday, str) and weekday.lower() in WEEKDAYS:
                weekday = WEEKDAYS.index(weekday.lower())
            weekday = require_int({"weekday": weekday}, "weekday")
            if weekday > 6:
                raise ValidationError({"weekday": "0 (Monday) to 6 (Sunday)."})
            at = _parse_time(config.get("time", "09:00"))
            return {"mode": mode, "weekday": weekday, "time": at.strftime("%H:%M")}
        if mode == "date":
            at = parse_datetime(str(config.get("at", "")))
            if at is None or at.tzinfo is None:
                raise ValidationError({"at": "A date and time with offset, e.g. 2026-12-24T09:00:00+01:00."})
            return {"mode": mode, "at": at.isoformat()}
        raise ValidationError({"mode": "duration, weekday_time or date."})

    def target(self, config: dict, enrollment) -> datetime:
        mode = config.get("mode", "duration")
        if mode == "duration":
            return enrollment.step_entered_at + timedelta(seconds=int(config["seconds"]))
        if mode == "weekday_time":
            zone = contact_zone(enrollment.contact)
            return next_weekday_time(
                enrollment.step_entered_at, zone, int(config["weekday"]), _parse_time(config["time"])
            )
        return parse_datetime(config["at"])

    def run(self, *, step, enrollments, ctx):
        results = {}
        for e in enrollments:
            target = self.target(step.config, e)
            if target <= ctx.now:
                results[e.id] = StepResult("next", outcome="waited")
            else:
                results[e.id] = StepResult(
                    None, due_at=target, detail=f"waiting until {target:%Y-%m-%d %H:%M %Z}"
                )
        return results

    def describe(self, config: dict, names: Names | None = None) -> str:
        if config.get("mode") == "weekday_time":
            return f"until {WEEKDAYS[int(config['weekday'])].title()} {config['time']} (contact's time zone)"
        if config.get("mode") == "date":
            return f"until {config['at']}"
        if "seconds" not in config:  # a draft saved with days/hours/minutes, not cleaned yet
            try:
                config = self.validate(config)
            except ValidationError:
                return "duration not set"
        return duration_human(int(config["seconds"]))
