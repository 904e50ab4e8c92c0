from datetime import timedelta

import pytest
from django.utils.timezone import now

from contacts.models import Contact
from coupons.models import Coupon
from coupons.services import coupon_assign, coupons_assign_bulk
from tests.coupons.conftest import make_contacts, make_pool

pytestmark = pytest.mark.django_db


def test_second_assignment_returns_same_code():
    pool = make_pool(codes=3)
    contact = Contact.objects.create(email="a@example.com")
    first = coupon_assign(pool=pool, contact=contact)
    second = coupon_assign(pool=pool, contact=contact)
    assert first.created and not first.exhausted
    assert not second.created and not second.exhausted
    assert first.coupon.pk == second.coupon.pk
    assert Coupon.objects.filter(contact=contact).count() == 1


def test_exhausted_pool_is_an_outcome_not_an_error():
    pool = make_pool(codes=1)
    first, second = (Contact.objects.create(email=f"{n}@example.com") for n in "ab")
    assert coupon_assign(pool=pool, contact=first).coupon is not None
    result = coupon_assign(pool=pool, contact=second)
    assert result.coupon is None and result.exhausted and not result.created


def test_bulk_assignment_is_idempotent_and_reports_exhaustion():
    pool = make_pool(codes=5)
    ids = make_contacts(8)
    first = coupons_assign_bulk(pool=pool, contact_ids=ids)
    assert list(first) == ids
    given = {cid: c.code for cid, c in first.items() if c is not None}
    assert list(given) == ids[:5]  # contacts are served in the order given
    assert len(set(given.values())) == 5
    assert [first[cid] for cid in ids[5:]] == [None, None, None]
    again = coupons_assign_bulk(pool=pool, contact_ids=list(reversed(ids)))
    assert {cid: c.code for cid, c in again.items() if c is not None} == given
    assert Coupon.objects.filter(pool=pool, contact__isnull=False).count() == 5


def test_bulk_assignment_uses_a_constant_number_of_queries(django_assert_max_num_queries):
    pool = make_pool(codes=1200)
    ids = make_contacts(1000)
    with django_assert_max_num_queries(12):
        result = coupons_assign_bulk(pool=pool, contact_ids=ids)
    assert sum(1 for c in result.values() if c) == 1000
    assert (
        Coupon.objects.filter(pool=pool, assigned_at__isnull=False).values("contact").distinct().count()
        == 1000
    )


def test_inactive_pool_hands_out_nothing():
    pool = make_pool(codes=2, is_active=False)
    contact = Contact.objects.create(email="a@example.com")
    assert coupons_assign_bulk(pool=pool, contact_ids=[contact.pk]) == {contact.pk: None}


def test_redeemed_unassigned_code_is_not_handed_out():
    pool = make_pool(codes=1)
    Coupon.objects.filter(pool=pool).update(redeemed_at=now())
    contact = Contact.objects.create(email="a@example.com")
    assert coupon_assign(pool=pool, contact=contact).exhausted


def test_unknown_contact_ids_get_no_code():
    pool = make_pool(codes=2)
    assert coupons_assign_bulk(pool=pool, contact_ids=[987654]) == {987654: None}
    assert Coupon.objects.filter(pool=pool, assigned_at__isnull=True).count() == 2


def test_expiry_fixed_end_date():
    end = now() + timedelta(days=30)
    pool = make_pool(codes=1, valid_until=end)
    contact = Contact.objects.create(email="a@example.com")
    assert coupon_assign(pool=pool, contact=contact).coupon.expires_at == end


def test_expiry_n_days_after_assignment():
    pool = make_pool(codes=1, valid_days=14)
    contact = Contact.objects.create(email="a@example.com")
    before = now()
    coupon = coupon_assign(pool=pool, contact=contact).coupon
    assert before + timedelta(days=14) <= coupon.expires_at <= now() + timedelta(days=14)


def test_pool_past_its_end_date_hands_out_nothing():
    pool = make_pool(codes=1, valid_until=now() - timedelta(days=1))
    contact = Contact.objects.create(email="a@example.com")
    assert coupon_assign(pool=pool, contact=contact).exhausted


def test_pool_deactivated_after_it_was_loaded_hands_out_nothing():
    from coupons.models import CouponPool
    from coupons.services import pool_deactivate

    pool = make_pool(codes=3)
    ids = make_contacts(2)
    pool_deactivate(pool_ids=[pool.pk])  # e.g. by a marketer while a journey batch holds `pool`
    assert coupons_assign_bulk(pool=pool, contact_ids=ids) == {ids[0]: None, ids[1]: None}
    assert not Coupon.objects.filter(assigned_at__isnull=False).exists()
    assert not CouponPool.objects.get(pk=pool.pk).is_active


def test_pool_deactivated_mid_batch_stops_handing_out_codes(monkeypatch):
    from coupons.services import assignment, pool_deactivate

    pool = make_pool(codes=10)
    ids = make_contacts(6)
    monkeypatch.setattr(assignment, "BATCH_SIZE", 2)
    real_claim = assignment._claim
    calls = []

    def claim_then_deactivate(pool_arg, contact_ids):
        calls.append(contact_ids)
        result = real_claim(pool_arg, contact_ids)
        if len(calls) == 1:
            pool_deactivate(pool_ids=[pool.pk])
        return result

    monkeypatch.setattr(assignment, "_claim", claim_then_deactivate)
    result = coupons_assign_bulk(pool=pool, contact_ids=ids)
    assert [cid for cid, c in result.items() if c] == ids[:2]
    assert Coupon.objects.filter(assigned_at__isnull=False).count() == 2


def test_pool_whose_end_date_passed_after_it_was_loaded_hands_out_nothing():
    from coupons.models import CouponPool

    pool = make_pool(codes=2, valid_until=now() + timedelta(days=1))
    CouponPool.objects.filter(pk=pool.pk).update(valid_until=now() - timedelta(minutes=1))
    contact = Contact.objects.create(email="a@example.com")
    assert coupon_assign(pool=pool, contact=contact).exhausted
    assert not Coupon.objects.filter(assigned_at__isnull=False).exists()


def test_validity_days_use_the_current_pool_rule_and_assignment_time():
    from coupons.models import CouponPool

    pool = make_pool(codes=1, valid_days=30)
    CouponPool.objects.filter(pk=pool.pk).update(valid_days=7)
    contact = Contact.objects.create(email="a@example.com")
    coupon = coupon_assign(pool=pool, contact=contact).coupon
    coupon.refresh_from_db()
    assert coupon.expires_at - coupon.assigned_at == timedelta(days=7)


def test_assignment_inside_an_outer_transaction_is_idempotent():
    from django.db import transaction

    pool = make_pool(codes=3)
    ids = make_contacts(4)
    with transaction.atomic():
        first = coupons_assign_bulk(pool=pool, contact_ids=ids)
        again = coupons_assign_bulk(pool=pool, contact_ids=ids[::-1])
    assert {k: v and v.code for k, v in first.items()} == {k: v and v.code for k, v in again.items()}
    assert sum(1 for c in first.values() if c) == 3
