"""Several real processes assign codes from one small pool at the same time."""

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from coupons.models import Coupon
from tests.conftest import test_database_url
from tests.coupons.conftest import make_contacts, make_pool

PROCESSES = 8
CONTACTS = 240


@pytest.mark.parametrize("codes", [160, 400], ids=["pool-smaller-than-demand", "pool-larger-than-demand"])
@pytest.mark.django_db(transaction=True)
def test_many_processes_never_answer_exhausted_falsely(tmp_path: Path, codes: int):
    """8 real processes, overlapping shuffled lists, single and bulk (batches of 20 and 120) at once.

    `None` ("exhausted") only when the pool had no free code left: never because another process
    assigned the same contact at the same time (issue 8). No code twice, one code per contact,
    counters exact.
    """
    pool = make_pool(codes=codes)
    ids = make_contacts(CONTACTS)
    go_file = tmp_path / "go"
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    workers, lists = [], []
    for n in range(PROCESSES):
        rng = random.Random(n)
        order = rng.sample(ids, k=CONTACTS * 3 // 4)  # overlapping, shuffled
        lists.append(order)
        mode = ("single", "bulk", "bulk120")[n % 3]
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.coupons.assign_worker", str(pool.pk), mode, str(go_file)]
                + [str(i) for i in order],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
        go_file.touch()  # all processes start assigning at once
        reports = []
        for worker in workers:
            out, err = worker.communicate(timeout=600)
            assert worker.returncode == 0, err
            reports.append({int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()})
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    assigned = list(Coupon.objects.filter(pool=pool, contact__isnull=False).values_list("contact_id", "code"))
    holders = Counter(contact for contact, _code in assigned)
    asked = set().union(*lists)
    assert max(holders.values()) == 1  # no contact holds two codes...
    assert len({code for _contact, code in assigned}) == len(assigned)  # ...no code reached two contacts
    assert len(assigned) == min(codes, len(asked))  # every code went out, or every contact got one
    truth = dict(assigned)
    false_none = sum(1 for rep in reports for cid, code in rep.items() if code is None and truth.get(cid))
    assert false_none == 0  # "exhausted" answered for contacts that hold a code
    for order, report in zip(lists, reports, strict=True):
        # Each process saw the same outcome: the contact's one code, or "exhausted" (None).
        assert report == {cid: truth.get(cid) for cid in order}
    if codes >= len(asked):
        assert all(code is not None for report in reports for code in report.values())
    _assert_counters_match_codes(pool)


def _assert_counters_match_codes(pool) -> None:
    from coupons.selectors import pools_with_counted_stats, pools_with_stats

    names = ("total_codes", "available_codes", "assigned_codes", "redeemed_codes", "expired_codes")
    shown = pools_with_stats().get(pk=pool.pk)
    counted = pools_with_counted_stats().get(pk=pool.pk)
    assert [getattr(shown, n) for n in names] == [getattr(counted, n) for n in names]


def _assign_in_threads(pool_id: int, orders: list[list[int]], *, outer_transaction: bool):
    """Each thread assigns its contacts (own connection), all starting at once."""
    import threading

    from django.db import connection, transaction

    from coupons.models import CouponPool
    from coupons.services import coupons_assign_bulk

    barrier = threading.Barrier(len(orders))
    results: list = [None] * len(orders)

    def run(n: int) -> None:
        try:
            pool = CouponPool.objects.get(pk=pool_id)
            barrier.wait(timeout=10)
            if outer_transaction:  # the journeys engine assigns inside its batch transaction
                with transaction.atomic():
                    got = coupons_assign_bulk(pool=pool, contact_ids=orders[n])
            else:
                got = coupons_assign_bulk(pool=pool, contact_ids=orders[n])
            results[n] = {cid: c.code if c else None for cid, c in got.items()}
        except Exception as exc:  # reported by the test
            results[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(orders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.parametrize("outer_transaction", [False, True])
@pytest.mark.django_db(transaction=True)
def test_concurrent_bulk_assignments_for_overlapping_contacts(outer_transaction):
    pool = make_pool(codes=150)
    ids = make_contacts(200)
    orders = []
    for n in range(3):
        order = ids[n * 25 : n * 25 + 150]  # overlapping windows
        random.Random(n).shuffle(order)
        orders.append(order)
    results = _assign_in_threads(pool.pk, orders, outer_transaction=outer_transaction)
    errors = [r for r in results if not isinstance(r, dict)]
    assert not errors, errors
    assigned = dict(Coupon.objects.filter(pool=pool, contact__isnull=False).values_list("contact_id", "code"))
    assert len(assigned) == 150 and len(set(assigned.values())) == 150
    for order, result in zip(orders, results, strict=True):
        assert result == {cid: assigned.get(cid) for cid in order}
    _assert_counters_match_codes(pool)


def _hold_write_lock(seconds: float, started) -> None:
    """Another writer keeps the SQLite database locked for `seconds` (a long import, say)."""
    import time

    from django.db import connection, transaction

    from contacts.models import Contact

    try:
        with transaction.atomic():
            Contact.objects.create(email="lock-holder@example.com")
            started.set()
            time.sleep(seconds)
    finally:
        connection.close()


def _assign_with_short_busy_timeout(pool, contact_ids):
    from django.db import connection

    from coupons.services import coupons_assign_bulk

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout=100")
    return coupons_assign_bulk(pool=pool, contact_ids=contact_ids)


@pytest.mark.django_db(transaction=True)
def test_sqlite_lock_held_briefly_by_another_writer_is_waited_out(monkeypatch):
    import threading

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite locking")
    from coupons.services import assignment

    monkeypatch.setattr(assignment, "LOCKED_RETRY_DELAYS", (0.2, 0.4, 0.8, 1.6))
    pool = make_pool(codes=3)
    ids = make_contacts(2)
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(0.8, started))
    holder.start()
    started.wait(5)
    try:
        result = _assign_with_short_busy_timeout(pool, ids)
    finally:
        holder.join()
    assert all(result.values()) and len({c.code for c in result.values()}) == 2


@pytest.mark.django_db(transaction=True)
def test_sqlite_lock_that_outlasts_the_retries_is_a_clear_retryable_error(monkeypatch):
    import threading

    from django.db import OperationalError, connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite locking")
    from coupons.services import AssignmentBusy, assignment

    monkeypatch.setattr(assignment, "LOCKED_RETRY_DELAYS", (0.05, 0.05))
    pool = make_pool(codes=3)
    ids = make_contacts(2)
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(1.5, started))
    holder.start()
    started.wait(5)
    try:
        with pytest.raises(AssignmentBusy, match="locked") as caught:
            _assign_with_short_busy_timeout(pool, ids)
    finally:
        holder.join()
    assert isinstance(caught.value, OperationalError)  # callers that retry on OperationalError still do
    assert not Coupon.objects.filter(assigned_at__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_counter_fold_does_not_wait_for_an_open_assignment_batch():
    """The journeys engine assigns inside its batch transaction; the fold must not queue behind it.

    Guards the design: assignment appends counter deltas instead of updating the pool row (which
    would also make concurrent batches of one pool wait for each other).
    """
    import threading

    from django.db import connection, transaction

    from coupons.services import coupons_assign_bulk, pool_counters_fold

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    pool = make_pool(codes=5)
    ids = make_contacts(3)
    assigned, release = threading.Event(), threading.Event()

    def open_batch() -> None:
        try:
            with transaction.atomic():
                coupons_assign_bulk(pool=pool, contact_ids=ids)
                assigned.set()
                release.wait(10)
        finally:
            connection.close()

    batch = threading.Thread(target=open_batch)
    batch.start()
    try:
        assert assigned.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        assert pool_counters_fold(pool_ids=[pool.pk]) == 1  # the pool's earlier deltas (its codes)
    finally:
        release.set()
        batch.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    pool_counters_fold(pool_ids=[pool.pk])
    _assert_counters_match_codes(pool)


@pytest.mark.django_db(transaction=True)
def test_concurrent_recording_of_overlapping_orders_counts_each_redemption_once():
    """Two order imports (API + CSV, say) record overlapping orders at the same time."""
    import threading
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection
    from django.utils.timezone import now

    from contacts.models import Order
    from coupons.selectors import pools_with_stats
    from coupons.services import coupon_redemptions_record, coupons_assign_bulk

    pool = make_pool(codes=40)
    ids = make_contacts(40)
    given = coupons_assign_bulk(pool=pool, contact_ids=ids)
    orders = Order.objects.bulk_create(
        Order(
            external_id=f"o{i}-{n}",
            contact_id=cid,
            placed_at=now() - timedelta(minutes=n),
            total=Decimal("10.00"),
            coupon_code=given[cid].code.lower(),
        )
        for i, cid in enumerate(ids)
        for n in range(2)  # two orders per code: the earlier one wins
    )
    order_ids = [o.pk for o in orders]
    batches = [order_ids[::-1], order_ids[len(order_ids) // 3 :], order_ids]
    barrier = threading.Barrier(len(batches))
    errors = []

    def record(batch) -> None:
        try:
            barrier.wait(10)
            coupon_redemptions_record(order_ids=batch)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    earliest = {o.contact_id: o.pk for o in sorted(orders, key=lambda o: o.placed_at, reverse=True)}
    assert dict(Coupon.objects.filter(pool=pool).values_list("contact_id", "order_id")) == earliest
    row = pools_with_stats().get(pk=pool.pk)
    assert (row.redeemed_codes, row.redeemed_revenue) == (40, Decimal("400.00"))
    _assert_counters_match_codes(pool)
