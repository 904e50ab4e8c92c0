"""The pool list reads per-pool counters kept by the services, not every code of every pool."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.timezone import now

from contacts.models import Order
from coupons.models import Coupon
from coupons.selectors import pools_with_counted_stats, pools_with_stats
from coupons.services import (
    coupon_redemptions_record,
    coupons_assign_bulk,
    coupons_generate,
    coupons_import_csv,
    pool_counters_fold,
)
from tests.coupons.conftest import make_contacts, make_pool

pytestmark = pytest.mark.django_db
STATS = (
    "total_codes",
    "available_codes",
    "assigned_codes",
    "redeemed_codes",
    "expired_codes",
    "redeemed_revenue",
)


def _shown(pool, at=None):
    row = pools_with_stats(at=at).get(pk=pool.pk)
    return {name: getattr(row, name) for name in STATS}


def _counted(pool, at=None):
    row = pools_with_counted_stats(at=at).get(pk=pool.pk)
    return {name: getattr(row, name) for name in STATS}


def _order(contact_id, code, *, ext, total="20.00", status=Order.Status.PAID, days=0):
    return Order.objects.create(
        external_id=ext,
        contact_id=contact_id,
        placed_at=now() + timedelta(days=days),
        total=Decimal(total),
        coupon_code=code,
        status=status,
    )


def test_pool_list_does_not_read_the_codes_of_its_pools(admin_client):
    make_pool(codes=5, name="A")
    make_pool(codes=5, name="B")
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(reverse("admin:coupons_couponpool_changelist")).status_code == 200
    page_sql = [q["sql"] for q in queries if '"coupons_couponpool"' in q["sql"]]
    assert page_sql and all('JOIN "coupons_coupon"' not in sql for sql in page_sql)
    assert all("GROUP BY" not in sql.split("FROM", 1)[0] for sql in page_sql)


def test_counters_match_a_full_recount_through_a_mixed_workload(django_capture_on_commit_callbacks):
    pool = make_pool(codes=4, valid_days=10)
    other = make_pool(codes=2, name="Other")
    assert _shown(pool) == _counted(pool)
    coupons_generate(pool=pool, count=6, length=8)
    coupons_import_csv(pool=pool, file=__import__("io").BytesIO(b"code\nSHOP-1\nSHOP-2\nshop-2\n"))
    ids = make_contacts(8)
    given = coupons_assign_bulk(pool=pool, contact_ids=ids)
    coupons_assign_bulk(pool=pool, contact_ids=ids)  # idempotent: counts once
    coupons_assign_bulk(pool=other, contact_ids=ids[:1])
    assert _shown(pool) == _counted(pool) and _shown(other) == _counted(other)
    assert _shown(pool)["assigned_codes"] == 8 and _shown(pool)["available_codes"] == 4

    free = Coupon.objects.filter(pool=pool, assigned_at__isnull=True).order_by("pk").first()
    orders = [
        _order(ids[0], given[ids[0]].code, ext="valid", total="30.00"),
        _order(ids[1], " " + given[ids[2]].code.lower(), ext="wrong-contact"),
        _order(ids[3], free.code, ext="never-assigned"),
    ]
    coupon_redemptions_record(order_ids=[o.pk for o in orders])
    coupon_redemptions_record(order_ids=[o.pk for o in orders])  # re-import: no double count
    assert _shown(pool) == _counted(pool)
    assert _shown(pool)["redeemed_revenue"] == Decimal("70.00")
    assert _shown(pool)["available_codes"] == 3

    Order.objects.filter(pk=orders[0].pk).update(total=Decimal("25.00"))
    Order.objects.filter(pk=orders[2].pk).update(status=Order.Status.REFUNDED)
    coupon_redemptions_record(order_ids=[orders[0].pk, orders[2].pk])
    assert _shown(pool) == _counted(pool) and _shown(pool)["available_codes"] == 4

    # Time passes: codes given 10 days ago expire; the shown count follows without a fold...
    later = now() + timedelta(days=11)
    assert _shown(pool, at=later) == _counted(pool, at=later)
    assert _shown(pool, at=later)["expired_codes"] == 6  # 8 assigned, 2 redeemed
    # ...and after the periodic fold moved them into the counters.
    pool_counters_fold(at=later)
    assert _shown(pool, at=later) == _counted(pool, at=later)
    # A late redemption of an expired (folded) code, then its refund.
    late = _order(ids[5], given[ids[5]].code, ext="late", days=12)
    coupon_redemptions_record(order_ids=[late.pk])
    assert Coupon.objects.get(order=late).redemption == Coupon.Redemption.EXPIRED
    assert _shown(pool, at=later) == _counted(pool, at=later)
    assert _shown(pool, at=later)["expired_codes"] == 5
    Order.objects.filter(pk=late.pk).update(status=Order.Status.CANCELLED)
    coupon_redemptions_record(order_ids=[late.pk])
    pool_counters_fold(at=later + timedelta(days=1))
    assert _shown(pool, at=later) == _counted(pool, at=later)
    assert _shown(pool, at=later)["expired_codes"] == 6


def test_pool_list_shows_counter_numbers(admin_client):
    pool = make_pool(codes=3, name="Shown")
    coupons_assign_bulk(pool=pool, contact_ids=make_contacts(1))
    row = admin_client.get(reverse("admin:coupons_couponpool_changelist")).context["cl"].result_list[0]
    assert (row.total_codes, row.available_codes, row.assigned_codes) == (3, 2, 1)
