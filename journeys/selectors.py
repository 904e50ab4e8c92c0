"""Reads for screens: the 'explain' page, the contact story, journey reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, Sum
from django.utils import timezone

from journeys.models import Conversion, Enrollment, Journey, Step, StepRun
from journeys.steps import registry
from journeys.steps.base import step_names_fetch
from journeys.steps.messages import cap_usage, quiet_until


@dataclass
class Explanation:
    enrollment: Enrollment
    runs: list[StepRun]
    step: Step | None
    step_description: str
    headline: str
    reasons: list[str]
    next_move: datetime | None


def enrollment_explain(*, enrollment_id: int, now: datetime | None = None) -> Explanation:
    """Why a contact is where it is and when it moves next, in a marketer's words."""
    now = now or timezone.now()
    enrollment = Enrollment.objects.select_related("journey", "version", "contact", "step").get(
        pk=enrollment_id
    )
    runs = list(StepRun.objects.filter(enrollment=enrollment).select_related("step").order_by("ran_at", "id"))
    step = enrollment.step
    kind = registry.get(step.kind) if step else None
    description = kind.describe(step.config, step_names_fetch([step.config])) if kind and step else ""
    journey = enrollment.journey
    reasons: list[str] = []
    next_move = None
    if enrollment.state not in Enrollment.IN_FLIGHT:
        headline = f"{enrollment.get_state_display()}: {enrollment.exit_reason or 'no reason recorded'}"
        if enrollment.exited_at:
            headline += f" at {timezone.localtime(enrollment.exited_at):%Y-%m-%d %H:%M}"
    else:
        step_name = str(step) if step else "no step"
        headline = f"At step “{step_name}” of version {enrollment.version.number}"
        next_move = enrollment.due_at
        if journey.status == Journey.Status.PAUSED:
            reasons.append("The journey is paused: nobody moves until it is resumed.")
        elif journey.status != Journey.Status.ACTIVE:
            reasons.append(f"The journey is {journey.get_status_display().lower()}.")
        if enrollment.wait_reason:
            reasons.append(f"Waiting: {enrollment.wait_reason}.")
        if enrollment.claimed_by and enrollment.claimed_until and enrollment.claimed_until > now:
            reasons.append("A worker is advancing this contact right now.")
        if enrollment.due_at and enrollment.due_at <= now and journey.status == Journey.Status.ACTIVE:
            reasons.append("Due now: the next tick (every few seconds) moves it.")
        if kind is not None and kind.is_message:
            until = quiet_until(journey, enrollment.contact, now)
            if until:
                reasons.append(f"Quiet hours in the contact's time zone until {until:%H:%M %Z}.")
            if journey.frequency_cap_messages and journey.frequency_cap_days:
                used, _oldest = cap_usage(
                    [enrollment.contact_id], now=now, days=journey.frequency_cap_days
                ).get(enrollment.contact_id, (0, None))
                reasons.append(
                    f"Frequency cap: {used} of {journey.frequency_cap_messages} messages used in the last "
                    f"{journey.frequency_cap_days} days."
                )
            if not enrollment.contact.can_receive(kind.channel):
                reasons.append(
                    "The contact cannot receive this channel (status or consent): it will be skipped."
                )
        if enrollment.holdout:
            reasons.append("In the holdout group: walks the journey but is never messaged.")
    return Explanation(enrollment, runs, step, description, headline, reasons, next_move)


def contact_story_context(contact) -> dict:
    """Context for templates/journeys/_contact_story.html: the contact's enrollments (two queries)."""
    enrollments = list(
        Enrollment.objects.filter(contact=contact)
        .select_related("journey", "version", "step")
        .order_by("-entered_at")[:50]
    )
    return {"enrollments": enrollments}


def journey_report(*, journey: Journey) -> dict:
    """Counts by state and conversions by variant/holdout (two aggregate queries)."""
    states = dict(
        Enrollment.objects.filter(journey=journey)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    conversions = list(
        Conversion.objects.filter(journey=journey)
        .values("variant", "holdout")
        .annotate(n=Count("id"), revenue=Sum("revenue"))
        .order_by("holdout", "variant")
    )
    entered = (
        Enrollment.objects.filter(journey=journey)
        .values("variant", "holdout")
        .annotate(n=Count("id"), converted=Count("id", filter=Q(conversions__isnull=False)))
        .order_by("holdout", "variant")
    )
    return {"states": states, "conversions": conversions, "groups": list(entered)}


def journey_in_flight_counts(*, journey: Journey) -> dict[tuple[int, int | None], int]:
    """Contacts in flight by (version id, step id): one GROUP BY over the journey's in-flight rows."""
    rows = (
        Enrollment.objects.filter(journey=journey, state__in=Enrollment.IN_FLIGHT)
        .order_by()
        .values("version_id", "step_id")
        .annotate(n=Count("id"))
        .values_list("version_id", "step_id", "n")
    )
    return {(version_id, step_id): n for version_id, step_id, n in rows}


def journey_stats(*, journey: Journey) -> dict:
    """journey_report's shape (states, groups) read from the JourneyStat rollup (one query over a few
    rows), plus `refreshed_at` (None when the journey was never counted yet)."""
    from journeys.models import JourneyStat

    states: dict[str, int] = {}
    groups: dict[tuple[bool, str], dict] = {}
    refreshed_at = None
    for row in JourneyStat.objects.filter(journey=journey):
        states[row.state] = states.get(row.state, 0) + row.enrolled
        group = groups.setdefault(
            (row.holdout, row.variant),
            {"variant": row.variant, "holdout": row.holdout, "n": 0, "converted": 0},
        )
        group["n"] += row.enrolled
        group["converted"] += row.converted
        refreshed_at = row.refreshed_at if refreshed_at is None else min(refreshed_at, row.refreshed_at)
    return {"states": states, "groups": [groups[k] for k in sorted(groups)], "refreshed_at": refreshed_at}


def journey_in_flight_expression():
    """Contacts in flight per journey from the rollup, for annotating a Journey queryset (a subquery
    over a handful of rows per journey instead of counting its enrollments)."""
    from django.db.models import IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from journeys.models import JourneyStat

    in_flight = (
        JourneyStat.objects.filter(journey=OuterRef("pk"), state__in=Enrollment.IN_FLIGHT)
        .order_by()
        .values("journey")
        .annotate(n=Sum("enrolled"))
        .values("n")
    )
    return Coalesce(Subquery(in_flight, output_field=IntegerField()), 0)
