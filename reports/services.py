"""The rollup writer (the only write in reports): `rollups_refresh`, run by beat every hour."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from journeys.models import Enrollment, Journey
from messaging.models import Message
from reports.models import DailyCount, JourneySnapshot
from segments.models import ContactScore

AT_RISK_SEGMENTS = ("At Risk", "Can't Lose Them")
MESSAGE_DAYS = 2  # re-count today and yesterday (late opens and clicks land on earlier messages' days)
JOURNEY_DAYS = 7  # the dashboard's "last 7 days" per journey, recounted whole on every run


def _message_counts(since: dt.date) -> dict[tuple[dt.date, str], int]:
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    counts: dict[tuple[dt.date, str], int] = {}
    by_sent = (
        Message.objects.filter(sent_at__gte=start)
        .annotate(day=TruncDate("sent_at"))
        .values("day")
        .annotate(
            sent=Count("id", filter=Q(status__in=[Message.Status.SENT, Message.Status.BOUNCED])),
            delivered=Count("id", filter=Q(status=Message.Status.SENT)),
            bounced=Count("id", filter=Q(status=Message.Status.BOUNCED)),
        )
        .order_by()
    )
    for row in by_sent:
        for key in ("sent", "delivered", "bounced"):
            counts[(row["day"], key)] = row[key]
    for key, column in (("opened", "opened_at"), ("clicked", "clicked_at")):
        rows = (
            Message.objects.filter(**{f"{column}__gte": start})
            .annotate(day=TruncDate(column))
            .values("day")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            counts[(row["day"], key)] = row["n"]
    return counts


def _journey_counts(since: dt.date) -> list[DailyCount]:
    """Per journey and day since `since`: contacts entered ("journey_entered") and messages created and
    sent ("journey_messaged"), key = the journey id. Two grouped scans an hour instead of two per
    dashboard view."""
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    rows: list[DailyCount] = []
    for metric, queryset, column in (
        ("journey_entered", Enrollment.objects.filter(entered_at__gte=start), "entered_at"),
        (
            "journey_messaged",
            Message.objects.filter(
                created_at__gte=start, status=Message.Status.SENT, journey_id__isnull=False
            ),
            "created_at",
        ),
    ):
        for journey_id, day, n in (
            queryset.annotate(day=TruncDate(column))
            .values("journey_id", "day")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("journey_id", "day", "n")
        ):
            rows.append(DailyCount(day=day, metric=metric, key=str(journey_id), value=n))
    return rows


@transaction.atomic
def rollups_refresh(*, today: dt.date | None = None, message_days: int = MESSAGE_DAYS) -> int:
    """Recount the recent days' messages and snapshot today's audience. Returns rows written."""
    today = today or timezone.localdate()
    since = today - dt.timedelta(days=message_days - 1)
    rows: list[DailyCount] = []
    counts = _message_counts(since)
    for offset in range(message_days):
        day = since + dt.timedelta(days=offset)
        for key in ("sent", "delivered", "opened", "clicked", "bounced"):
            rows.append(DailyCount(day=day, metric="messages", key=key, value=counts.get((day, key), 0)))
    for metric, column in (
        ("stage", "lifecycle_stage"),
        ("segment", "rfm_segment"),
        ("cluster", "clv_cluster"),
    ):
        for key, n in (
            ContactScore.objects.order_by().values(column).annotate(n=Count("pk")).values_list(column, "n")
        ):
            rows.append(DailyCount(day=today, metric=metric, key=key or "", value=n))
    at_risk = ContactScore.objects.filter(
        Q(lifecycle_stage="defecting") | Q(rfm_segment__in=AT_RISK_SEGMENTS)
    ).aggregate(n=Count("pk"), clv=Sum("predicted_clv"))
    rows.append(
        DailyCount(day=today, metric="at_risk", key="", value=at_risk["n"], amount=at_risk["clv"] or 0)
    )
    journeys_since = today - dt.timedelta(days=JOURNEY_DAYS - 1)
    rows.extend(_journey_counts(journeys_since))
    DailyCount.objects.filter(
        Q(metric="messages", day__gte=since, day__lte=today)
        | Q(metric__in=["stage", "segment", "cluster", "at_risk"], day=today)
        | Q(metric__in=["journey_entered", "journey_messaged"], day__gte=journeys_since)
    ).delete()
    DailyCount.objects.bulk_create(rows)
    return len(rows)


def report_to_json(report: dict) -> dict:
    """A journey report without its model instances (for JourneySnapshot)."""
    data = {k: v for k, v in report.items() if k not in ("journey", "filters", "version")}
    data["version"] = {"number": report["version"].number} if report["version"] else None
    return data


def journey_snapshots_refresh(*, now: dt.datetime | None = None) -> int:
    """Recompute the stored report (and its per-entry-day rows, for filtered views) of every journey that
    is not archived. Returns how many."""
    from reports.journey_days import journey_days_refresh
    from reports.selectors.journey import journey_results
    from reports.selectors.movement import inactive_reengagement

    now = now or timezone.now()
    journeys = list(Journey.objects.exclude(status=Journey.Status.ARCHIVED).select_related("current_version"))
    for journey in journeys:
        data = report_to_json(journey_results(journey=journey))
        data["inactive_reengagement"] = inactive_reengagement(journey_id=journey.pk)
        journey_days_refresh(journey)
        JourneySnapshot.objects.update_or_create(journey=journey, defaults={"computed_at": now, "data": data})
    return len(journeys)
