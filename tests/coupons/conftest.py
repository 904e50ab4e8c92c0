import pytest
from django.utils.timezone import now

from contacts.models import Contact
from coupons.models import CouponPool
from coupons.services import coupons_add


def make_contacts(count: int, *, prefix: str = "c") -> list[int]:
    Contact.objects.bulk_create(Contact(email=f"{prefix}{i}@example.com") for i in range(count))
    return list(Contact.objects.filter(email__startswith=prefix).order_by("pk").values_list("pk", flat=True))


def make_pool(*, codes: int = 0, name: str = "Win back 15%", **fields) -> CouponPool:
    fields.setdefault("offer_kind", CouponPool.OfferKind.PERCENT)
    fields.setdefault("offer_value", 15)
    fields.setdefault("low_stock_threshold", 0)
    pool = CouponPool.objects.create(name=name, **fields)
    coupons_add(pool=pool, codes=[f"{pool.pk}-CODE{i:05d}" for i in range(codes)])  # keeps the counters
    return pool


@pytest.fixture
def at():
    return now()
