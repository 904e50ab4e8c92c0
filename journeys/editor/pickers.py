"""Search pickers for the step forms (segments with their size, pools with codes available, templates
of one channel, surveys, audience exports) and the crontab helpers (next runs, weekday + time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import number_format

PICKER_LIMIT = 50


def _segments(q: str = "") -> QuerySet:
    from segments.models import Segment

    return Segment.objects.filter(name__icontains=q).order_by("name")


def _pools(q: str = "") -> QuerySet:
    from coupons.models import CouponPool
    from coupons.selectors import pools_with_stats

    return pools_with_stats(CouponPool.objects.filter(name__icontains=q)).order_by("name")


def _templates(q: str = "", channel: str = "email") -> QuerySet:
    from messaging.models import MessageTemplate

    return MessageTemplate.objects.filter(name__icontains=q, channel=channel).order_by("name")


def _surveys(q: str = "") -> QuerySet:
    from journeys.models import Survey

    return Survey.objects.filter(title__icontains=q).order_by("title")


def _exports(q: str = "") -> QuerySet:
    from journeys.models import AudienceExport

    return AudienceExport.objects.filter(name__icontains=q).order_by("name")


def picker_label(what: str, obj) -> str:
    if what == "segment":
        size = (
            "size not computed yet"
            if obj.size is None
            else f"{number_format(obj.size, force_grouping=True)} contacts"
        )
        return f"{obj.name} · {size}"
    if what == "pool":
        available = getattr(obj, "available_codes", None)
        state = "" if obj.is_active else " · inactive"
        return f"{obj.name} · {number_format(available or 0, force_grouping=True)} codes available{state}"
    return str(obj)


def picker_queryset(what: str, q: str = "") -> QuerySet:
    if what.startswith("template-"):
        return _templates(q, what.removeprefix("template-"))
    return {"segment": _segments, "pool": _pools, "survey": _surveys, "export": _exports}[what](q)


PICKERS = ("segment", "pool", "survey", "export", "template-email", "template-sms", "template-push")


class PickerSelect(forms.Select):
    """A select with a search box above it; typing asks the picker endpoint for matching options."""

    template_name = "journeys/editor/picker.html"

    def __init__(self, what: str, attrs=None):
        super().__init__(attrs)
        self.what = what

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["what"] = self.what
        context["widget"]["preview"] = self.what.startswith("template-")
        return context


class PickerField(forms.ModelChoiceField):
    def __init__(self, what: str, **kwargs):
        self.what = what
        kwargs.setdefault("empty_label", "— pick one —")
        super().__init__(queryset=picker_queryset(what), widget=PickerSelect(what), **kwargs)

    def label_from_instance(self, obj) -> str:
        return picker_label(self.what, obj)


# --- schedules -------------------------------------------------------------------------------

WEEKDAY_CHOICES = [
    (0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"),
    (6, "Sunday"),
]  # fmt: skip


def weekly_crontab(weekday: int, at) -> str:
    """Monday=0 ... Sunday=6 at a time -> "M H * * D" (cron: Sunday=0)."""
    return f"{at.minute} {at.hour} * * {(int(weekday) + 1) % 7}"


def weekly_read(crontab: str) -> tuple[int, str] | None:
    """The inverse of weekly_crontab, or None for any other crontab."""
    parts = crontab.split()
    if (
        len(parts) != 5
        or parts[2:4] != ["*", "*"]
        or not all(p.isdigit() for p in (parts[0], parts[1], parts[4]))
    ):
        return None
    minute, hour, dow = int(parts[0]), int(parts[1]), int(parts[4])
    if minute > 59 or hour > 23 or dow > 7:
        return None
    return (dow - 1) % 7, f"{hour:02d}:{minute:02d}"


def crontab_next_runs(crontab: str, *, count: int = 5, now: datetime | None = None) -> list[datetime]:
    """The next runs of a crontab in the site's time zone, read the way Celery beat reads it.
    Raises ValueError for an invalid crontab."""
    from celery.schedules import crontab as celery_crontab

    parts = crontab.split()
    if len(parts) != 5:
        raise ValueError("Five fields: minute hour day-of-month month day-of-week.")
    schedule = celery_crontab(*parts[:2], day_of_week=parts[4], day_of_month=parts[2], month_of_year=parts[3])
    now = timezone.localtime(now or timezone.now())
    runs: list[datetime] = []
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(400):
        cron_dow = (day.weekday() + 1) % 7
        if (
            day.month in schedule.month_of_year
            and day.day in schedule.day_of_month
            and cron_dow in schedule.day_of_week
        ):
            for hour in sorted(schedule.hour):
                for minute in sorted(schedule.minute):
                    at = day.replace(hour=hour, minute=minute)
                    if at > now:
                        runs.append(at)
                        if len(runs) == count:
                            return runs
        day = day + timedelta(days=1)
    return runs
