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
