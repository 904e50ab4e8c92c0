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
            from coupons.services import coupons_add  # keeps the pool's counters right

            coupons_add(pool=self, codes=[f"P{self.pk}-{i:06d}" for i in range(extracted)])


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "coupons.Coupon"

    pool = factory.SubFactory(CouponPoolFactory)
    code = factory.Sequence(lambda n: f"CODE-{n:06d}")


# --- contacts ---------------------------------------------------------------------------------


def _now():
    from django.utils import timezone

    return timezone.now()


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.Contact"

    external_id = factory.Sequence(lambda n: f"C-{n:06d}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = "Anna"
    last_name = factory.Sequence(lambda n: f"Tester{n}")
    email_consent = True


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.Product"

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "Apparel"
    brand = "Northwind"
    price = "24.90"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.Order"

    external_id = factory.Sequence(lambda n: f"O-{n:07d}")
    contact = factory.SubFactory(ContactFactory)
    placed_at = factory.LazyFunction(lambda: _now())
    total = "49.80"


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.OrderLine"

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda line: line.product.sku if line.product else "")
    quantity = 2
    unit_price = "24.90"


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.Event"

    contact = factory.SubFactory(ContactFactory)
    kind = "site_visit"
