"""Daily rollups: what a page would otherwise count over millions of rows, counted once by a beat task.

`DailyCount(day, metric, key)` holds one number (and an amount of money when it applies):
- "messages": key sent / delivered / opened / clicked / bounced, per day of the event;
- "stage", "segment", "cluster": contacts per lifecycle stage / RFM segment / value cluster (a snapshot
  taken when the rollup runs, kept per day so sizes over time can be drawn);
- "at_risk": key "" : defecting or at-risk contacts, amount = their predicted CLV;
- "journey_entered", "journey_messaged": key = journey id: contacts entered / messages sent per day (the
  last 7 days recounted on every run), for the dashboard's journeys card.
Rows are replaced (not added to) on every run, so running it twice changes nothing.
"""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now


class DailyCount(models.Model):
    day = models.DateField()
    metric = models.CharField(max_length=32)
    key = models.CharField(max_length=64, blank=True)
    value = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    computed_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "day", "key"], name="dailycount_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric}/{self.key}: {self.value}"


class JourneySnapshot(models.Model):
    """The unfiltered journey report as JSON, recomputed by the hourly rollup for journeys that are not
    archived, so the report page opens without aggregating 300,000 enrollments. Filtered views, the
    "recount now" link and `manage.py journey_report` always count live."""

    journey = models.OneToOneField("journeys.Journey", on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField(default=now)
    data = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"Report of journey {self.journey_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class JourneyDay(models.Model):
    """One journey version's enrollments that entered on one day: the grouped counts of the journey report
    as JSON (see reports/journey_days.py), rewritten by the hourly rollup."""

    journey = models.ForeignKey("journeys.Journey", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("journeys.JourneyVersion", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["journey", "version", "day"], name="journeyday_unique"),
        ]

    def __str__(self) -> str:
        return f"Journey {self.journey_id} v{self.version_id} entered {self.day}"
