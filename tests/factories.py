"""factory_boy factories shared by the test suite. Each app adds its factories at the end."""

import factory

# --- coupons ----------------------------------------------------------------------------------


class CouponPoolFactory(factory.django.DjangoModelFactory):
    """A pool; `CouponPoolFactory(codes=50)` also creates 50 free codes."""

    class Meta:
        model = "coupons.CouponPool"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Pool {n}")
    offer_kind = "percent"
    offer_value = 15
    low_stock_threshold = 0

    @factory.post_generation
    def codes(self, create, extracted, **kwargs):
        if create and extracted:
            from coupons.models import Coupon

            Coupon.objects.bulk_create(
                Coupon(pool=self, code=f"P{self.pk}-{i:06d}") for i in range(extracted)
            )


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "coupons.Coupon"

    pool = factory.SubFactory(CouponPoolFactory)
    code = factory.Sequence(lambda n: f"CODE-{n:06d}")
