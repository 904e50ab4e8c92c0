from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils.timezone import now

from contacts.models import Contact, Order
from contacts.signals import orders_upserted
from coupons.models import Coupon
from coupons.services import coupon_assign, coupon_redemptions_record
from tests.coupons.conftest import make_pool

pytestmark = pytest.mark.django_db
R = Coupon.Redemption


def _order(contact, code, *, days_from_now=0, total="40.00", status=Order.Status.PAID, ext=None):
    return Order.objects.create(
        external_id=ext or f"o-{contact.pk}-{code}-{days_from_now}",
        contact=contact,
        placed_at=now() + timedelta(days=days_from_now),
        total=Decimal(total),
        coupon_code=code,
        status=status,
    )


@pytest.fixture
def people():
    return [Contact.objects.create(email=f"{n}@example.com") for n in ("ann", "bob")]


def test_orders_signal_links_redemptions_and_classifies_them(people):
    ann, bob = people
    pool = make_pool(codes=4, valid_days=7)
    mine = coupon_assign(pool=pool, contact=ann).coupon
    late = coupon_assign(pool=pool, contact=bob).coupon
    carl = Contact.objects.create(email="carl@example.com")
    shared = coupon_assign(pool=pool, contact=carl).coupon
    [never_assigned] = Coupon.objects.filter(pool=pool, assigned_at__isnull=True)
    orders = [
        _order(ann, mine.code.lower() + " ", total="50.00"),  # case and spaces do not matter
        _order(bob, late.code, days_from_now=8),
        _order(ann, shared.code),
        _order(ann, never_assigned.code),
        _order(ann, "NOT-OURS"),
    ]
    orders_upserted.send(sender=Order, order_ids=[o.pk for o in orders])

    got = {c.pk: c for c in Coupon.objects.filter(pool=pool)}
    assert got[mine.pk].redemption == R.VALID
    assert got[mine.pk].order_id == orders[0].pk
    assert got[mine.pk].redeemed_revenue == Decimal("50.00")
    assert got[mine.pk].redeemed_at == orders[0].placed_at
    assert got[late.pk].redemption == R.EXPIRED
    assert got[shared.pk].redemption == R.WRONG_CONTACT
    assert got[never_assigned.pk].redemption == R.UNASSIGNED
    # A redeemed code never goes out again, even if it was never assigned.
    dave = Contact.objects.create(email="dave@example.com")
    assert coupon_assign(pool=pool, contact=dave).exhausted


def test_recording_is_idempotent_and_first_order_wins(people):
    ann, _bob = people
    pool = make_pool(codes=1)
    coupon = coupon_assign(pool=pool, contact=ann).coupon
    first = _order(ann, coupon.code, days_from_now=-2, ext="first")
    assert coupon_redemptions_record(order_ids=[first.pk]) == 1
    assert coupon_redemptions_record(order_ids=[first.pk]) == 0
    second = _order(ann, coupon.code, ext="second")
    assert coupon_redemptions_record(order_ids=[second.pk, first.pk]) == 0
    coupon.refresh_from_db()
    assert coupon.order_id == first.pk


def test_cancelled_order_releases_the_redemption(people):
    ann, _bob = people
    pool = make_pool(codes=1)
    coupon = coupon_assign(pool=pool, contact=ann).coupon
    order = _order(ann, coupon.code)
    coupon_redemptions_record(order_ids=[order.pk])
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    assert coupon_redemptions_record(order_ids=[order.pk]) == 1
    coupon.refresh_from_db()
    assert coupon.order_id is None and coupon.redemption == "" and coupon.redeemed_at is None


def test_redemption_uses_a_constant_number_of_queries(people, django_assert_num_queries):
    ann, bob = people
    pool = make_pool(codes=50)
    coupons = list(Coupon.objects.filter(pool=pool))
    orders = Order.objects.bulk_create(
        Order(
            external_id=f"bulk-{i}",
            contact=ann if i % 2 else bob,
            placed_at=now(),
            total=10,
            coupon_code=c.code,
        )
        for i, c in enumerate(coupons)
    )
    # orders, codes (+ savepoint pair on atomic), one bulk UPDATE, pool lock, one counter insert
    with django_assert_num_queries(7):
        assert coupon_redemptions_record(order_ids=[o.pk for o in orders]) == 50


def test_orders_upsert_from_the_contacts_app_records_redemptions(people, django_capture_on_commit_callbacks):
    from contacts.services.orders import orders_upsert

    ann, _bob = people
    pool = make_pool(codes=1)
    coupon = coupon_assign(pool=pool, contact=ann).coupon
    with django_capture_on_commit_callbacks(execute=True):
        orders_upsert(
            orders=[
                {
                    "order_id": "shop-1",
                    "email": "ann@example.com",
                    "placed_at": now(),
                    "total": Decimal("30.00"),
                    "coupon_code": coupon.code,
                    "lines": [],
                }
            ]
        )
    coupon.refresh_from_db()
    assert coupon.redemption == R.VALID and coupon.redeemed_revenue == Decimal("30.00")


def test_refunded_linked_order_is_released_when_a_later_order_uses_the_code_in_the_same_batch(people):
    ann, _bob = people
    pool = make_pool(codes=1)
    coupon = coupon_assign(pool=pool, contact=ann).coupon
    first = _order(ann, coupon.code, days_from_now=-2, ext="first")
    coupon_redemptions_record(order_ids=[first.pk])
    Order.objects.filter(pk=first.pk).update(status=Order.Status.REFUNDED)
    second = _order(ann, "  " + coupon.code.lower() + " ", ext="second")
    coupon_redemptions_record(order_ids=[first.pk, second.pk])
    coupon.refresh_from_db()
    assert coupon.order_id == second.pk and coupon.redemption == R.VALID


def test_order_whose_coupon_code_was_corrected_releases_the_old_code(people):
    ann, _bob = people
    pool = make_pool(codes=2)
    coupon = coupon_assign(pool=pool, contact=ann).coupon
    order = _order(ann, coupon.code)
    coupon_redemptions_record(order_ids=[order.pk])
    Order.objects.filter(pk=order.pk).update(coupon_code="")
    assert coupon_redemptions_record(order_ids=[order.pk]) == 1
    coupon.refresh_from_db()
    assert coupon.order_id is None and coupon.redemption == "" and coupon.redeemed_revenue is None


def test_reimported_order_updates_revenue_without_double_counting(people):
    from coupons.selectors import pool_stats

    ann, _bob = people
    pool = make_pool(codes=1)
    coupon = coupon_assign(pool=pool, contact=ann).coupon
    order = _order(ann, coupon.code, total="40.00")
    for _ in range(3):
        coupon_redemptions_record(order_ids=[order.pk, order.pk])
    assert pool_stats(pool=pool).redeemed_revenue == Decimal("40.00")
    Order.objects.filter(pk=order.pk).update(total=Decimal("35.00"))
    coupon_redemptions_record(order_ids=[order.pk])
    stats = pool_stats(pool=pool)
    assert (stats.redeemed_codes, stats.redeemed_revenue) == (1, Decimal("35.00"))


def test_earliest_of_several_orders_using_a_code_wins_across_batches(people):
    ann, bob = people
    pool = make_pool(codes=1)
    coupon = coupon_assign(pool=pool, contact=ann).coupon
    late = _order(bob, coupon.code, days_from_now=-1, ext="late")
    early = _order(ann, coupon.code.lower(), days_from_now=-3, ext="early")
    coupon_redemptions_record(order_ids=[late.pk])
    coupon_redemptions_record(order_ids=[early.pk])
    coupon.refresh_from_db()
    assert coupon.order_id == early.pk and coupon.redemption == R.VALID


def test_refund_of_the_redeeming_order_passes_the_code_to_the_next_order_that_used_it(people):
    ann, bob = people
    pool = make_pool(codes=1)
    coupon = coupon_assign(pool=pool, contact=ann).coupon
    first = _order(ann, coupon.code, days_from_now=-3, ext="first")
    second = _order(bob, coupon.code.lower(), days_from_now=-1, total="12.50", ext="second")
    coupon_redemptions_record(order_ids=[first.pk, second.pk])
    coupon.refresh_from_db()
    assert coupon.order_id == first.pk
    Order.objects.filter(pk=first.pk).update(status=Order.Status.REFUNDED)
    coupon_redemptions_record(order_ids=[first.pk])
    coupon.refresh_from_db()
    assert (coupon.order_id, coupon.redemption, coupon.redeemed_revenue) == (
        second.pk,
        R.WRONG_CONTACT,
        Decimal("12.50"),
    )
