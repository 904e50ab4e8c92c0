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


@pytest.mark.skipif(connection.vendor != "postgresql", reason="purchase stats triggers are PostgreSQL only")
def test_seed_with_triggers_paused_leaves_exact_purchase_stats_and_triggers_back_on():
    """The bulk path loads orders with segments' purchase-stats triggers off and recomputes the stats
    after: every buyer's stats equal a count of the orders, and later order writes are tracked again."""
    from segments.models import ContactPurchaseStats

    demo_seed(contacts=400, seed=5, rebuild_indexes=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.contact_id, max(o.placed_at), count(*) FROM contacts_order o "
            "WHERE o.status NOT IN ('cancelled', 'refunded') GROUP BY o.contact_id ORDER BY 1"
        )
        expected = {cid: last for cid, last, _n in cursor.fetchall()}
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'contacts_order'::regclass "
            "AND NOT tgisinternal AND tgenabled = 'D'"
        )
        assert cursor.fetchone()[0] == 0
    stored = dict(ContactPurchaseStats.objects.values_list("contact_id", "last_purchase_at"))
    assert expected and stored == expected
    never_bought = Contact.objects.exclude(pk__in=expected).first()
    placed = Order.objects.order_by("-placed_at").first().placed_at
    Order.objects.create(external_id="after-seed", contact=never_bought, placed_at=placed, total=5)
    assert ContactPurchaseStats.objects.get(contact_id=never_bought.pk).last_purchase_at == placed
