"""Entry: enroll the contacts of the entry segment, set-based.

One INSERT ... SELECT from the segment's queryset, excluding contacts already in flight and, per
the re-entry policy, those who entered before. ON CONFLICT DO NOTHING with the unique constraints
(one entry per contact per entry key, one in-flight enrollment per contact) makes a repeated or
concurrent run harmless. The holdout flag is computed in the same statement from a stable hash of
journey id and contact id (holdout_bucket), so the same contact is always in or out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from journeys.models import Enrollment, EntryRun, Journey, JourneySegmentMember
from journeys.services.lifecycle import entry_step

logger = logging.getLogger(__name__)

_HASH_MULTIPLIER = 2654435761
_HASH_MODULUS = 1000003


def holdout_bucket(*, journey_id: int, contact_id: int) -> int:
    """0..99, stable per (journey, contact); the same arithmetic runs in SQL at entry."""
    return ((contact_id * _HASH_MULTIPLIER + journey_id * 40503) % _HASH_MODULUS) % 100


def _aware(value: str) -> datetime:
    """A stored start/end (versions published before offsets were required may lack one)."""
    parsed = parse_datetime(value)
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


class EntryError(Exception):
    """The journey cannot take anyone now for a reason the marketer must fix (recorded on the run)."""


def entry_candidates(*, journey: Journey, now: datetime) -> tuple[QuerySet, QuerySet] | None:
    """(segment contacts, contacts to enroll now) or None when the journey takes nobody now."""
    from segments.models import Segment
    from segments.rules import RuleError
    from segments.selectors import segment_contacts

    if journey.status != Journey.Status.ACTIVE:
        return None
    step = entry_step(version=journey.current_version)
    if step is None:
        return None
    config = step.config
    if config.get("start_at") and now < _aware(config["start_at"]):
        return None
    if config.get("end_at") and now > _aware(config["end_at"]):
        return None
    segment = Segment.objects.filter(pk=config["segment_id"]).first()
    if segment is None:
        raise EntryError(f"the entry segment {config['segment_id']} does not exist (deleted?)")
    try:
        members = segment_contacts(segment=segment).order_by()
    except RuleError as exc:
        raise EntryError(f"the entry segment “{segment}” cannot be evaluated: {exc}") from None
    return members, entry_filter(journey=journey, members=members, config=config, now=now)


def entry_filter(*, journey: Journey, members: QuerySet, config: dict, now: datetime) -> QuerySet:
    """The entry step's filters over its segment's contacts: consent, not in flight, re-entry rule,
    "only new". Shared by the engine and the editor's "who would enter now" dry run."""
    candidates = members
    if config.get("consent"):
        candidates = candidates.filter(status="active", **{f"{config['consent']}_consent": True})
    enrolled = Enrollment.objects.filter(journey=journey)
    candidates = candidates.exclude(
        id__in=enrolled.filter(state__in=Enrollment.IN_FLIGHT).values("contact_id")
    )
    if journey.reentry == Journey.Reentry.NEVER:
        candidates = candidates.exclude(id__in=enrolled.values("contact_id"))
    else:
        since = now - timedelta(days=journey.reentry_days or 0)
        candidates = candidates.exclude(id__in=enrolled.filter(entered_at__gt=since).values("contact_id"))
    if config.get("mode") == "new":
        candidates = candidates.exclude(
            id__in=JourneySegmentMember.objects.filter(journey=journey).values("contact_id")
        )
    return candidates


def _prep(model, name: str, value):
    return model._meta.get_field(name).get_db_prep_save(value, connection)


@transaction.atomic
def journey_enter(*, journey: Journey, now: datetime | None = None) -> int:
    """Enroll the entry segment's contacts now. Returns how many entered."""
    now = now or timezone.now()
    journey = Journey.objects.select_related("current_version").get(pk=journey.pk)
    try:
        found = entry_candidates(journey=journey, now=now)
    except EntryError as exc:
        # Beat runs this every period: record why (the journey page shows it) instead of raising.
        logger.warning("Journey %s: nobody entered: %s", journey.pk, exc)
        EntryRun.objects.create(journey=journey, started_at=now, error=str(exc)[:500])
        return 0
    if found is None:
        return 0
    members, candidates = found
    version = journey.current_version
    step = entry_step(version=version)
    run = EntryRun.objects.create(journey=journey, started_at=now)
    entry_key = "once" if journey.reentry == Journey.Reentry.NEVER else f"run:{run.pk}"
    select_sql, select_params = candidates.values("id").query.sql_with_params()
    qn = connection.ops.quote_name
    columns = [
        "journey_id",
        "version_id",
        "contact_id",
        "step_id",
        "state",
        "due_at",
        "step_entered_at",
        "visit",
        "entry_key",
        "entered_at",
        "exit_reason",
        "holdout",
        "variant",
        "wait_reason",
        "data",
        "claimed_by",
    ]
    values = [
        "%s",
        "%s",
        "c.id",
        "%s",
        "%s",
        "%s",
        "%s",
        "0",
        "%s",
        "%s",
        "''",
        f"(((c.id * {_HASH_MULTIPLIER} + %s) %% {_HASH_MODULUS}) %% 100) < %s",
        "''",
        "''",
        "%s",
        "''",
    ]
    params = [
        journey.pk,
        version.pk,
        step.pk,
        Enrollment.State.ACTIVE,
        _prep(Enrollment, "due_at", now),
        _prep(Enrollment, "step_entered_at", now),
        entry_key,
        _prep(Enrollment, "entered_at", now),
        journey.pk * 40503,
        journey.holdout_percent,
        _prep(Enrollment, "data", {}),
    ]
    sql = (
        f"INSERT INTO {qn(Enrollment._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
        f"SELECT {', '.join(values)} FROM ({select_sql}) c WHERE 1 = 1 ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *select_params])
        entered = max(cursor.rowcount, 0)
    if step.config.get("mode") == "new":
        _members_refresh(journey=journey, members=members)
    EntryRun.objects.filter(pk=run.pk).update(entered=entered)
    if entered:
        from journeys.tasks import journeys_tick_task

        transaction.on_commit(journeys_tick_task.delay)
    logger.info("Journey %s: %d contacts entered", journey.pk, entered)
    return entered


def _members_refresh(*, journey: Journey, members: QuerySet) -> None:
    """Remember who matched now, so the next run enrolls only newcomers."""
    JourneySegmentMember.objects.filter(journey=journey).exclude(contact_id__in=members.values("id")).delete()
    select_sql, select_params = members.values("id").query.sql_with_params()
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(JourneySegmentMember._meta.db_table)} ({qn('journey_id')}, {qn('contact_id')}) "
            f"SELECT %s, c.id FROM ({select_sql}) c WHERE 1 = 1 ON CONFLICT DO NOTHING",
            [journey.pk, *select_params],
        )
