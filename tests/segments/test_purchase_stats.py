"""segments.ContactPurchaseStats (PostgreSQL: kept by triggers on contacts_order) and the "last purchase"
rules compiled against it, checked against the orders themselves after every write path: ORM create and
save, bulk_create, queryset update and delete, a contact's cascaded delete, raw SQL and orders_upsert.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Order
from contacts.services.orders import orders_upsert
from segments.models import ContactPurchaseStats
from segments.rules import rules_compile

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
POSTGRES = connection.vendor == "postgresql"
RULES = [
    {"field": "last_purchase", "operator": "is_empty"},
    {"field": "last_purchase", "operator": "is_not_empty"},
    {"field": "last_purchase", "operator": "within_last_days", "value": 30},
    {"field": "last_purchase", "operator": "more_than_days_ago", "value": 90},
    {"field": "last_purchase", "operator": "between", "value": [{"days_ago": 365}, {"days_ago": 90}]},
    {"field": "last_purchase", "operator": "between", "value": ["2025-06-01", "2026-01-15"]},
    {"field": "last_purchase", "operator": "since", "value": "2026-01-15"},
    {"field": "last_purchase", "operator": "before", "value": "2026-01-15"},
    {"op": "not", "rules": [{"field": "last_purchase", "operator": "more_than_days_ago", "value": 200}]},
]


def _last_purchases() -> dict[int, dt.datetime]:
    """Brute force: every contact's last purchase, read from the orders in Python."""
    last: dict[int, dt.datetime] = {}
    for contact_id, placed_at, status in Order.objects.values_list("contact_id", "placed_at", "status"):
        if status not in Order.NOT_PURCHASES and (contact_id not in last or placed_at > last[contact_id]):
            last[contact_id] = placed_at
    return last


def _expected(rule: dict, last: dict[int, dt.datetime]) -> set[int]:
    from segments.rules.activity_fields import _last_purchase_window

    ids = set(Contact.objects.values_list("pk", flat=True))
    negate = rule.get("op") == "not"
    cond = rule["rules"][0] if negate else rule
    if cond["operator"] == "is_empty":
        chosen = ids - set(last)
    elif cond["operator"] == "is_not_empty":
        chosen = ids & set(last)
    else:
        start, end = _last_purchase_window(cond, NOW)
        chosen = {
            c
            for c in ids
            if c in last and (start is None or last[c] >= start) and (end is None or last[c] < end)
        }
    return ids - chosen if negate else chosen


def _check() -> None:
    last = _last_purchases()
    if POSTGRES:
        stored = dict(ContactPurchaseStats.objects.values_list("contact_id", "last_purchase_at"))
        assert stored == last
    for rule in RULES:
        got = set(Contact.objects.filter(rules_compile(rule, now=NOW)).values_list("pk", flat=True))
        assert got == _expected(rule, last), rule


def _order(rng: random.Random, contact: Contact, n: int) -> Order:
    return Order(
        external_id=f"x{contact.pk}-{n}-{rng.random()}",
        contact=contact,
        placed_at=NOW - dt.timedelta(days=rng.randint(0, 600), hours=rng.randint(0, 23)),
        total=Decimal("10.00"),
        status=rng.choice(["paid", "paid", "fulfilled", "refunded", "cancelled"]),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_last_purchase_rules_stay_exact_on_every_order_write_path(seed):
    rng = random.Random(seed)
    contacts = [Contact.objects.create(email=f"p{i}@shop.de") for i in range(30)]
    _check()  # nobody bought anything
    for i, contact in enumerate(contacts[:10]):  # ORM create
        _order(rng, contact, i).save()
    _check()
    Order.objects.bulk_create([_order(rng, rng.choice(contacts), n) for n in range(60)])
    _check()
    order = Order.objects.filter(status="paid").order_by("pk").first()  # save() of a changed order
    order.status = "refunded"
    order.save()
    order = Order.objects.filter(status="cancelled").order_by("pk").first()
    order.status = "paid"
    order.placed_at = NOW - dt.timedelta(days=1)
    order.save()
    _check()
    Order.objects.filter(pk__in=list(Order.objects.values_list("pk", flat=True)[:15])).update(
        status="cancelled"
    )
    _check()
    moved = Order.objects.order_by("-pk").first()  # an order moved to another contact
    Order.objects.filter(pk=moved.pk).update(contact=contacts[-1], placed_at=NOW - dt.timedelta(days=400))
    _check()
    Order.objects.filter(pk__in=list(Order.objects.values_list("pk", flat=True)[::4])).delete()
    _check()
    for order in Order.objects.filter(contact=contacts[3])[:1]:  # a model instance's delete()
        order.delete()
    contacts[5].delete()  # cascades to the contact's orders
    _check()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_order (external_id, contact_id, placed_at, total, currency, coupon_code, "
            "status, created_at) VALUES (%s, %s, %s, 5, 'EUR', '', 'paid', %s)",
            ["raw-1", contacts[20].pk, NOW - dt.timedelta(days=120), NOW],
        )
    _check()
    result = orders_upsert(
        orders=[
            {
                "order_id": "api-1",
                "email": "p21@shop.de",
                "placed_at": NOW - dt.timedelta(days=100),
                "status": "paid",
                "total": Decimal("12.00"),
                "lines": [],
            },
            {
                "order_id": "raw-1",
                "email": "p20@shop.de",
                "placed_at": NOW - dt.timedelta(days=10),
                "status": "paid",
                "total": Decimal("5.00"),
                "lines": [],
            },
        ]
    )
    assert (result.created, result.updated) == (1, 1)
    _check()


@pytest.mark.skipif(not POSTGRES, reason="the aggregate is maintained on PostgreSQL only")
def test_last_purchase_rule_reads_the_aggregate_not_the_orders():
    rule = {"field": "last_purchase", "operator": "between", "value": [{"days_ago": 365}, {"days_ago": 90}]}
    with CaptureQueriesContext(connection) as queries:
        list(Contact.objects.filter(rules_compile(rule, now=NOW)).values_list("pk", flat=True))
    assert len(queries) == 1
    sql = queries[0]["sql"]
    assert "segments_contactpurchasestats" in sql and "contacts_order" not in sql


@pytest.mark.skipif(not POSTGRES, reason="the aggregate is maintained on PostgreSQL only")
def test_truncating_the_orders_empties_the_aggregate():
    contact = Contact.objects.create(email="t@shop.de")
    Order.objects.create(external_id="t1", contact=contact, placed_at=NOW, total=Decimal("1.00"))
    assert ContactPurchaseStats.objects.filter(contact_id=contact.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending deferred FK checks
        cursor.execute("TRUNCATE contacts_order CASCADE")
    assert not ContactPurchaseStats.objects.exists()


@pytest.mark.skipif(not POSTGRES, reason="the aggregate is maintained on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_contact_leave_the_aggregate_exact():
    """T1 adds the newer order and commits only after T2 (adding an older one) is waiting: without the
    trigger's lock, T2's snapshot misses T1's order and would overwrite last_purchase_at with the older."""
    import threading
    import time

    from django.db import connections, transaction

    contact = Contact.objects.create(email="race@shop.de")
    newer, older = NOW - dt.timedelta(days=1), NOW - dt.timedelta(days=10)
    t1_wrote, release_t1, errors = threading.Event(), threading.Event(), []

    def t1() -> None:
        try:
            with transaction.atomic():
                Order.objects.create(external_id="race-new", contact=contact, placed_at=newer, total=1)
                t1_wrote.set()
                assert release_t1.wait(60)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    def t2() -> None:
        try:
            assert t1_wrote.wait(60)
            with transaction.atomic():
                Order.objects.create(external_id="race-old", contact=contact, placed_at=older, total=1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=t1), threading.Thread(target=t2)]
    for thread in threads:
        thread.start()
    assert t1_wrote.wait(60)
    deadline = time.monotonic() + 60  # a guard against hanging, not a timing assertion
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:  # wait until T2 is blocked on a lock
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
    release_t1.set()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert ContactPurchaseStats.objects.get(contact_id=contact.pk).last_purchase_at == newer
