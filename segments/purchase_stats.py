"""Moving the anchor day of ContactPurchaseStats' rolling windows (30/90/365 days) forward.

The window columns count the purchases placed since midnight UTC of (anchor day - W days). Rules stay exact
whatever the anchor (they subtract what fell out since; segments.rules.purchase_windows), so this refresh
only keeps that subtraction small. Moving the anchor from day A to day B changes the columns of exactly the
contacts with a purchase placed in [A - W, B - W) for some W: those are recomputed, in chunks, by the same
SQL function the order triggers use. Beat runs it hourly (a no-op once done for the day).

PostgreSQL only; SQLite has no ContactPurchaseStats rows (the rules read the orders there).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

WINDOWS = (30, 90, 365)
CHUNK = 10_000
LOCK = "SELECT pg_advisory_xact_lock(74111, 0)"  # exclusive; the order triggers take it shared
TRY_LOCK = "SELECT pg_try_advisory_xact_lock(74111, 0)"
WRITE_LOCK = "SELECT pg_advisory_xact_lock_shared(74111, 0)"  # what every order write takes


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _recompute(cursor, ids: list[int]) -> None:
    for start in range(0, len(ids), CHUNK):
        cursor.execute("SELECT segments_purchase_stats_recompute(%s::bigint[])", [ids[start : start + CHUNK]])


def purchase_stats_refresh(*, today: dt.date | None = None) -> int:
    """Move the anchor day forward to the day before `today` (UTC); returns how many contacts were
    recomputed. One day behind on purpose: a rule compiled with a `now` taken just before midnight and run
    after the refresh still finds the anchor's midnight before its `now`."""
    if connection.vendor != "postgresql":
        return 0
    today = (today or timezone.now().astimezone(dt.UTC).date()) - dt.timedelta(days=1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT refreshed_on FROM segments_purchasestatsday ORDER BY id LIMIT 1")
        row = cursor.fetchone()
        if row is not None and row[0] >= today:
            return 0  # cheap check without the lock: already done today
        # Never queue for the lock: while the refresh waited, every new order write (shared lock) would
        # queue behind it, for as long as a long order transaction (a big CSV import) runs. If an order
        # write holds it now, the next hourly run does the work.
        cursor.execute(TRY_LOCK)
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute("SELECT id, refreshed_on FROM segments_purchasestatsday ORDER BY id LIMIT 1")
        row = cursor.fetchone()
        if row is None:
            return purchase_stats_rebuild(day=today)
        pk, old = row
        if old >= today:
            return 0
        ranges = " OR ".join("(placed_at >= %s AND placed_at < %s)" for _ in WINDOWS)
        params: list = []
        for w in WINDOWS:
            params += [_midnight(old - dt.timedelta(days=w)), _midnight(today - dt.timedelta(days=w))]
        cursor.execute(
            "SELECT DISTINCT contact_id FROM contacts_order "
            f"WHERE status NOT IN ('cancelled', 'refunded') AND ({ranges}) ORDER BY contact_id",
            params,
        )
        ids = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            "UPDATE segments_purchasestatsday SET refreshed_on = %s, refreshed_at = now() WHERE id = %s",
            [today, pk],
        )
        _recompute(cursor, ids)
    return len(ids)


def purchase_stats_rebuild(*, day: dt.date) -> int:
    """Anchor the windows on `day` (any day, also backwards) and recompute every buyer, in chunks.
    For repairs and tests; the daily path is purchase_stats_refresh."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK)
        cursor.execute(
            "UPDATE segments_purchasestatsday SET refreshed_on = %s, refreshed_at = now() "
            "WHERE id = (SELECT min(id) FROM segments_purchasestatsday)",
            [day],
        )
        if cursor.rowcount == 0:
            cursor.execute(
                "INSERT INTO segments_purchasestatsday (refreshed_on, refreshed_at) VALUES (%s, now())", [day]
            )
        cursor.execute("SELECT DISTINCT contact_id FROM contacts_order ORDER BY contact_id")
        ids = [r[0] for r in cursor.fetchall()]
        _recompute(cursor, ids)
    return len(ids)


def purchase_stats_recompute(*, contact_id_from: int = 0) -> int:
    """Recompute the stats of every buyer with id >= `contact_id_from`, in chunks, in the caller's
    transaction: for bulk loads that ran with the order triggers disabled (the demo seed). Takes the
    triggers' shared lock, so it counts as an order write for purchase_stats_refresh."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(WRITE_LOCK)
        cursor.execute(
            "SELECT DISTINCT contact_id FROM contacts_order WHERE contact_id >= %s ORDER BY contact_id",
            [contact_id_from],
        )
        ids = [r[0] for r in cursor.fetchall()]
        _recompute(cursor, ids)
    return len(ids)


def purchase_stats_write_lock() -> None:
    """Take, for the rest of the caller's transaction, the lock every order write takes (shared): for a
    bulk load that locks contacts_order itself first (the demo seed), so that the daily refresh cannot
    hold the exclusive lock while waiting for that table (a deadlock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(WRITE_LOCK)
