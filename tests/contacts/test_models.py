import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.models import Contact, Order


@pytest.mark.django_db
def test_email_is_unique_when_present():
    Contact.objects.create(email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(email="a@example.com")


@pytest.mark.django_db
def test_external_id_is_unique_when_present():
    Contact.objects.create(external_id="C-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(external_id="C-1")


@pytest.mark.django_db
def test_missing_email_and_external_id_are_allowed_twice():
    Contact.objects.create(email=None, external_id=None)
    Contact.objects.create(email=None, external_id=None)
    assert Contact.objects.count() == 2


@pytest.mark.django_db
def test_unknown_status_is_rejected():
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(email="a@example.com", status="sleeping")


@pytest.mark.django_db
def test_negative_order_total_is_rejected():
    contact = Contact.objects.create(email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(external_id="O-1", contact=contact, placed_at=timezone.now(), total=-1)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="INCLUDE indexes: PostgreSQL")
def test_purchase_window_queries_can_use_a_covering_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'order_placed_cover_idx'")
        (definition,) = cursor.fetchone()
    assert "(placed_at) INCLUDE (contact_id, total, status)" in definition
