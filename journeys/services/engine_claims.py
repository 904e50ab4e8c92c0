"""Who may advance which enrollments: claims (a lease), releases, and failing repeated conflicts.

On PostgreSQL the tick takes a batch by locking due rows in the batch's own transaction
(engine_batch.due_rows_lock); enrollments_claim (a lease written to the rows) is the way on SQLite
and for callers that claim first and advance later. Both respect each other: a leased row is not due
for anyone else, a locked row is skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from journeys.models import Enrollment, Journey, StepRun


def lease_duration() -> timedelta:
    """How long a claim holds before another worker may take the contacts over (crashed worker)."""
    from django.conf import settings

    from winback.env import env_int

    seconds = getattr(settings, "JOURNEYS_CLAIM_LEASE_SECONDS", None)
    return timedelta(seconds=seconds or env_int("JOURNEYS_CLAIM_LEASE_SECONDS", 300, minimum=1))


def due_enrollments(*, now: datetime) -> QuerySet:
    return Enrollment.objects.filter(
        state__in=Enrollment.IN_FLIGHT, due_at__lte=now, journey__status=Journey.Status.ACTIVE
    ).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def enrollments_claim(*, now: datetime, token: str, limit: int, lease: timedelta | None = None) -> int:
    """Claim up to `limit` due enrollments for `token`. Returns how many were claimed."""
    until = now + (lease or lease_duration())
    due = due_enrollments(now=now).order_by("due_at")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = list(
                due.select_for_update(skip_locked=True, of=("self",)).values_list("id", flat=True)[:limit]
            )
            if not ids:
                return 0
            target = Enrollment.objects.filter(id__in=ids)
        else:
            target = Enrollment.objects.filter(id__in=due.values("id")[:limit])
        # Re-check the claim condition in the UPDATE itself: only rows still free are taken.
        return target.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).update(
            claimed_by=token, claimed_until=until
        )


def conflicts_fail(*, now: datetime, token: str = "", ids: list[int] | None = None) -> int:
    """After a batch hit the step-history key (the batch claimed by `token`, or the enrollments `ids`
    it had locked): those whose current step and visit already ran (the history says so, yet they were
    not moved on) can never run it again, so they fail visibly ("step already ran") instead of
    conflicting at every tick. Contacts that another worker moved on, or holds right now, are left
    alone. Returns how many failed."""
    already = StepRun.objects.filter(
        enrollment=OuterRef("pk"), step=OuterRef("step"), visit=OuterRef("visit")
    )
    with transaction.atomic():
        if ids is not None:
            mine = Enrollment.objects.filter(id__in=ids)
            if connection.vendor == "postgresql":
                free = mine.select_for_update(skip_locked=True, of=("self",))
                mine = Enrollment.objects.filter(id__in=list(free.values_list("id", flat=True)))
        else:
            mine = Enrollment.objects.filter(claimed_by=token)
        return (
            mine.filter(state__in=Enrollment.IN_FLIGHT)
            .filter(Exists(already))
            .update(
                state=Enrollment.State.FAILED,
                exit_reason="step already ran",
                exited_at=now,
                due_at=None,
                wait_reason="",
                claimed_by="",
                claimed_until=None,
            )
        )


def claims_release(*, token: str) -> int:
    return Enrollment.objects.filter(claimed_by=token).update(claimed_by="", claimed_until=None)


_CAP_LOCK_CLASS = 73_020_011  # first key of the two-key advisory locks: "journeys frequency cap"


def cap_locks_take(contact_ids: set[int]) -> None:
    """PostgreSQL: lock (until commit) the given contacts (those of a batch in a journey with a
    frequency cap), all at once and in id order (no deadlock between workers). A worker whose batch
    messages the same contact waits for ours to commit, then counts our messages: the cap holds
    across workers. SQLite serialises writers anyway. One statement whatever the batch size."""
    if connection.vendor != "postgresql" or not contact_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, (x %% 2147483647)::int)) "
            "FROM (SELECT x FROM unnest(%s::bigint[]) AS x ORDER BY x) AS ordered",
            [_CAP_LOCK_CLASS, sorted(contact_ids)],
        )
