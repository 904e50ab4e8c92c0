"""Locks between order writes, the daily purchase-window refresh and the demo seed (PostgreSQL):
order writes take a shared advisory lock, the refresh takes it exclusive but never waits for it (it would
queue every later order write behind one long order transaction), and the demo seed takes the writers'
lock before it locks contacts_order (the other order deadlocks with a refresh)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

import contacts.services.demo as demo
from contacts.models import Contact, Order
from segments.purchase_stats import purchase_stats_rebuild, purchase_stats_refresh

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


@pytest.mark.django_db(transaction=True)
def test_an_open_order_transaction_plus_refresh_does_not_block_other_order_writes():
    today = dt.datetime.now(dt.UTC).date()
    purchase_stats_rebuild(day=today - dt.timedelta(days=3))
    slow, other = Contact.objects.create(email="slow@x.de"), Contact.objects.create(email="other@x.de")
    wrote, release, errors = threading.Event(), threading.Event(), []
    now = dt.datetime.now(dt.UTC)

    def long_import():
        try:
            with transaction.atomic():
                Order.objects.create(external_id="slow", contact=slow, placed_at=now, total=Decimal(1))
                wrote.set()
                assert release.wait(60)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    def refresh():
        try:
            purchase_stats_refresh(today=today)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=long_import), threading.Thread(target=refresh)]
    threads[0].start()
    assert wrote.wait(30)
    threads[1].start()
    time.sleep(1)  # the refresh now waits for the import's shared lock
    blocked = None
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '3s'")
            Order.objects.create(external_id="api", contact=other, placed_at=now, total=Decimal(2))
    except Exception as exc:  # noqa: BLE001
        blocked = exc
    finally:
        release.set()
        for t in threads:
            t.join(60)
    assert blocked is None, f"an unrelated order write was blocked: {blocked!r}"  # fails: lock timeout
    assert not errors, errors
    assert (
        purchase_stats_refresh(today=today) >= 0
    )  # the next run, with no order write open, moves the anchor
    from segments.models import PurchaseStatsDay

    assert PurchaseStatsDay.objects.get().refreshed_on == today - dt.timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_demo_seed_and_refresh_do_not_deadlock(monkeypatch):
    today = dt.datetime.now(dt.UTC).date()
    purchase_stats_rebuild(day=today - dt.timedelta(days=10))  # the refresh has work to do
    loaded, go, errors = threading.Event(), threading.Event(), []
    original = demo._load

    def slow_load(*args, **kwargs):
        result = original(*args, **kwargs)
        loaded.set()
        assert go.wait(60)
        return result

    monkeypatch.setattr(demo, "_load", slow_load)

    def run(fn):
        def target():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connections.close_all()

        return threading.Thread(target=target)

    seeder = run(lambda: demo.demo_seed(contacts=30, rebuild_indexes=True, today=today))
    refresher = run(lambda: purchase_stats_refresh(today=today))
    seeder.start()
    assert loaded.wait(60)
    refresher.start()
    time.sleep(2.5)  # the refresh holds the exclusive advisory lock and waits on contacts_order
    go.set()
    seeder.join(60)
    refresher.join(60)
    assert not errors, errors  # fails: psycopg.errors.DeadlockDetected in the seed
