"""The demo seed's bulk path: on PostgreSQL the filled tables' indexes and constraints are dropped for the
load and rebuilt after it, exactly as they were (no deferred foreign-key storm at COMMIT)."""

import pytest
from django.db import IntegrityError, connection

from contacts.models import Contact, Event, Order, OrderLine
from contacts.services.demo import demo_seed

pytestmark = pytest.mark.django_db


def _schema() -> tuple[list, list]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid::regclass::text LIKE 'contacts_%%' ORDER BY 1, 2"
        )
        constraints = cursor.fetchall()
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename LIKE 'contacts_%%' ORDER BY 1")
        return constraints, cursor.fetchall()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="index rebuild is PostgreSQL only")
def test_seed_with_index_rebuild_restores_every_index_and_constraint():
    before = _schema()
    result = demo_seed(contacts=400, seed=5, rebuild_indexes=True)
    assert _schema() == before
    assert Contact.objects.count() == result.contacts == 400
    assert Order.objects.count() == result.orders > 0
    assert OrderLine.objects.filter(order__contact__isnull=False).count() == result.order_lines
    assert Event.objects.count() == result.events
    with pytest.raises(IntegrityError):  # the foreign keys are back and checked
        Order.objects.create(external_id="x", contact_id=10**9, placed_at=Order.objects.first().placed_at)
        connection.check_constraints()


def test_seed_mix_is_the_same_with_and_without_rebuild():
    """Same seed, same shop: the rebuild changes how rows are written, not which."""
    demo_seed(contacts=300, seed=9, rebuild_indexes=True)
    first = (Contact.objects.count(), Order.objects.count(), OrderLine.objects.count(), Event.objects.count())
    from contacts.services.demo import demo_delete

    demo_delete()
    demo_seed(contacts=300, seed=9, rebuild_indexes=False)
    assert (
        Contact.objects.count(),
        Order.objects.count(),
        OrderLine.objects.count(),
        Event.objects.count(),
    ) == first
