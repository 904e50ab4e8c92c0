"""Handing codes to contacts: one code per contact per pool, never one code to two contacts.

How it stays correct with many workers at once:
- the database enforces both rules: `code` is unique and (pool, contact) is unique for assigned codes;
- free codes are claimed with one conditional UPDATE per batch (`... WHERE assigned_at IS NULL`) and the
  row count is checked; codes lost to a concurrent claim are simply claimed again;
- on PostgreSQL the candidate rows are picked with `SELECT ... FOR UPDATE SKIP LOCKED`, so workers
  take different codes instead of queueing on the same rows. SQLite has no SKIP LOCKED; there every
  write transaction is serialised (IMMEDIATE mode), and the same conditional UPDATE + re-check applies;
- if another worker assigned the same contact meanwhile, the unique constraint raises; the batch is
  rolled back to its savepoint, the winner's code is read back and returned (idempotent), and the other
  contacts of the batch are claimed again. A clash that served nobody (a deadlock) retries the next
  contact alone. Conflicts are never counted against the contacts: there is no "after N tries, None".
`None` / `exhausted=True` means exactly one thing: the pool had no free code (none committed, none held
by an unfinished claim of another worker), or it is inactive/expired. Never an exception for that.
The exceptions are `AssignmentBusy` (an OperationalError): SQLite staying locked by another writer past
the busy timeout and a few retries, or (a safety net) MAX_IDLE_ROUNDS conflicting rounds in a row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import BigIntegerField, Case, Value, When
from django.utils.timezone import now

from contacts.models import Contact
from coupons.models import Coupon, CouponPool
from coupons.services.counters import pool_counters_add
from coupons.services.pools import pool_stock_check

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# Rounds in a row that served no contact (all conflicts) before AssignmentBusy. Every conflict with a
# committed caller serves someone, so this is a safety net against a livelock, never "exhausted".
MAX_IDLE_ROUNDS = 100
# SQLite: waits after "database is locked" (beyond the connection's busy timeout) before giving up.
LOCKED_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)


class AssignmentBusy(OperationalError):
    """SQLite stayed locked by another writer; the contacts of the current batch got no code yet.

    Not "exhausted": the caller should retry later (an OperationalError, so task retry rules for
    database errors apply). Contacts served before the lock keep their codes; asking again returns them.
    """


@dataclass(frozen=True)
class AssignResult:
    coupon: Coupon | None
    exhausted: bool
    created: bool


def coupon_assign(*, pool: CouponPool, contact: Contact) -> AssignResult:
    """The contact's code from `pool`; assigns a free one on the first call."""
    assigned, created_ids = _assign(pool=pool, contact_ids=[contact.pk])
    coupon = assigned.get(contact.pk)
    return AssignResult(coupon=coupon, exhausted=coupon is None, created=contact.pk in created_ids)


def coupons_assign_bulk(*, pool: CouponPool, contact_ids: list[int]) -> dict[int, Coupon | None]:
    """Codes for many contacts at once; None means the pool had no code left (or is inactive/expired).

    Idempotent: contacts that already hold a code from the pool get that code back. Set-based: a
    constant number of queries per batch of 1000 contacts.
    """
    assigned, _created = _assign(pool=pool, contact_ids=contact_ids)
    return assigned


def pool_accepts_assignments(pool: CouponPool, at=None) -> bool:
    at = at or now()
    return pool.is_active and (pool.valid_until is None or pool.valid_until > at)


def _current_rules(pool: CouponPool) -> CouponPool | None:
    """The pool as stored now, or None if it hands out no codes (deactivated or past its end date).

    Read per chunk: the caller's `pool` may be stale (a journey batch holds it while a marketer
    deactivates the pool or changes its validity), and expiry must follow the stored rule.
    """
    fresh = CouponPool.objects.filter(pk=pool.pk).only("is_active", "valid_until", "valid_days").first()
    if fresh is None or not pool_accepts_assignments(fresh):
        return None
    return fresh


def _assign(*, pool: CouponPool, contact_ids: list[int]) -> tuple[dict[int, Coupon | None], set[int]]:
    ids = list(dict.fromkeys(int(i) for i in contact_ids))
    result: dict[int, Coupon | None] = {}
    created: set[int] = set()
    for start in range(0, len(ids), BATCH_SIZE):
        chunk_result, chunk_created = _assign_chunk(pool, ids[start : start + BATCH_SIZE])
        result.update(chunk_result)
        created |= chunk_created
    if created or any(coupon is None for coupon in result.values()):
        try:
            pool_stock_check(pool=pool)
        except OperationalError as exc:
            if not _is_locked(exc):
                raise
            # The alert is a side effect: the periodic stock check sends it if this one could not.
            logger.warning("Pool %s: stock check skipped, the database is locked", pool.pk)
    return result, created


def _existing(pool: CouponPool, contact_ids: list[int]) -> dict[int, Coupon]:
    return {c.contact_id: c for c in Coupon.objects.filter(pool=pool, contact_id__in=contact_ids)}


def _assign_chunk(pool: CouponPool, ids: list[int]) -> tuple[dict[int, Coupon | None], set[int]]:
    """Codes for one chunk. A contact is left without a code (None) only when the pool has none free.

    A concurrent conflict is resolved per contact, never by giving up: after a unique-constraint clash
    the contacts another caller served meanwhile take that caller's code, and the rest are claimed
    again; if a clash names no such contact (a deadlock, say), the next contact is retried alone.
    """
    found: dict[int, Coupon] = _existing(pool, ids)
    created: set[int] = set()
    missing = [i for i in ids if i not in found]
    if missing:
        known = set(Contact.objects.filter(pk__in=missing).values_list("pk", flat=True))
        missing = [i for i in missing if i in known]
    locked_waits = iter(LOCKED_RETRY_DELAYS)
    idle_rounds = 0  # rounds in a row that served nobody
    alone = False  # claim the next contact by itself
    while missing:
        rules = _current_rules(pool)
        if rules is None:
            break
        batch = missing[:1] if alone else missing
        try:
            with transaction.atomic():
                claimed, had_candidates = _claim(rules, batch)
                if claimed:
                    pool_counters_add(changes={pool.pk: {"assigned": len(claimed)}})
        except (IntegrityError, OperationalError) as exc:
            if isinstance(exc, OperationalError) and _is_locked(exc):
                delay = next(locked_waits, None)
                if delay is None or connection.in_atomic_block:  # waiting inside a transaction is futile
                    raise AssignmentBusy(
                        f"Coupon pool {pool.pk}: the database stayed locked by another writer; "
                        f"{len(missing)} contacts got no code yet. Retry later."
                    ) from exc
                time.sleep(delay)
                continue
            if isinstance(exc, OperationalError) and not _is_retryable(exc):
                raise
            # Another caller assigned some of these contacts (or a deadlock): take their codes.
            winners = _existing(pool, missing)
            found.update(winners)
            missing = [i for i in missing if i not in winners]
            alone = not winners
            idle_rounds = 0 if winners else idle_rounds + 1
            _give_up_if_stuck(pool, idle_rounds, missing)
            continue
        alone = False
        if claimed:
            for coupon in Coupon.objects.filter(pk__in=claimed.values()):
                found[coupon.contact_id] = coupon
            created |= set(claimed)
            missing = [i for i in missing if i not in claimed]
            idle_rounds = 0
        elif not had_candidates:
            # Exhausted: no free code, none in flight. A contact may have been given a code by
            # another caller meanwhile: report it.
            found.update(_existing(pool, missing))
            break
        else:
            # The free codes we waited for went to other callers; look again (the pool shrank).
            idle_rounds += 1
            _give_up_if_stuck(pool, idle_rounds, missing)
    return {i: found.get(i) for i in ids}, created


def _give_up_if_stuck(pool: CouponPool, idle_rounds: int, missing: list[int]) -> None:
    """A safety net, not a path taken: never turn endless contention into a false "exhausted"."""
    if idle_rounds >= MAX_IDLE_ROUNDS:
        raise AssignmentBusy(
            f"Coupon pool {pool.pk}: {len(missing)} contacts got no code after {idle_rounds} conflicting "
            "attempts in a row (the pool still has free codes). Retry later."
        )


def _is_locked(exc: OperationalError) -> bool:
    """SQLite's "database is locked": another connection held the write lock past the busy timeout."""
    return connection.vendor == "sqlite" and "locked" in str(exc)


def _is_retryable(exc: OperationalError) -> bool:
    """PostgreSQL deadlock (40P01) or serialization failure (40001): roll back the batch and retry."""
    return getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001")


def _claim(pool: CouponPool, contact_ids: list[int]) -> tuple[dict[int, int], bool]:
    """Claim free codes for `contact_ids`. Returns ({contact_id: coupon_id}, whether any code was free)."""
    free = Coupon.objects.filter(pool=pool, assigned_at__isnull=True, redeemed_at__isnull=True).order_by("pk")
    wanted = len(contact_ids)
    if connection.features.has_select_for_update_skip_locked:
        candidates = list(free.select_for_update(skip_locked=True).values_list("pk", flat=True)[:wanted])
        if not candidates:
            if not free.exists():
                return {}, False
            # Every free code is locked by another worker's unfinished claim. "Exhausted" is only
            # true once those commit, so wait for them (plain FOR UPDATE) instead of skipping.
            candidates = list(free.select_for_update().values_list("pk", flat=True)[:wanted])
            if not candidates:
                return {}, True  # they were taken; the caller looks again
    else:
        candidates = list(free.values_list("pk", flat=True)[:wanted])
        if not candidates:
            return {}, False
    # Who gets a code follows the order given; within the batch, contacts are paired in ascending id
    # order so concurrent batches insert into the (pool, contact) index in the same order (no deadlock).
    chosen = sorted(contact_ids[: len(candidates)])
    pairs = dict(zip(candidates, chosen, strict=True))  # coupon_id -> contact_id
    assigned_at = now()
    updated = _claim_update(pool, pairs, assigned_at)
    if updated == len(pairs):
        return {contact_id: coupon_id for coupon_id, contact_id in pairs.items()}, True
    # Some candidates were claimed by someone else between our SELECT and UPDATE: keep only ours.
    ours = Coupon.objects.filter(pk__in=pairs, assigned_at=assigned_at).values_list("pk", "contact_id")
    return {contact_id: pk for pk, contact_id in ours if pairs[pk] == contact_id}, True


def _claim_update(pool: CouponPool, pairs: dict[int, int], assigned_at) -> int:
    """One conditional UPDATE giving each still-free code its contact; returns the row count."""
    expires_at = pool.expiry_for(assigned_at)
    if connection.vendor == "postgresql":
        # A join against the pairs is much cheaper than a 1000-branch CASE evaluated per row.
        table = connection.ops.quote_name(Coupon._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET contact_id = v.contact_id, assigned_at = %s, expires_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(coupon_id, contact_id) "
                "WHERE c.id = v.coupon_id AND c.assigned_at IS NULL AND c.redeemed_at IS NULL",
                [assigned_at, expires_at, list(pairs), list(pairs.values())],
            )
            return cursor.rowcount
    return Coupon.objects.filter(pk__in=pairs, assigned_at__isnull=True, redeemed_at__isnull=True).update(
        contact_id=Case(
            *(When(pk=coupon_id, then=Value(contact_id)) for coupon_id, contact_id in pairs.items()),
            output_field=BigIntegerField(),
        ),
        assigned_at=assigned_at,
        expires_at=expires_at,
    )
