import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, Event, ImportJob, Order
from contacts.paginator import LargeTablePaginator
from contacts.services.contacts import contacts_upsert
from contacts.services.imports import import_job_run
from contacts.services.orders import events_record, orders_upsert
from contacts.services.results import RowErrors
from contacts.signals import contacts_changed
from tests.factories import ContactFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


def test_contacts_changed_is_sent_for_consent_and_status_changes_only(django_capture_on_commit_callbacks):
    kept, unsubscribed = ContactFactory(email_consent=True), ContactFactory(email_consent=True)
    received = []

    def receiver(sender, contact_ids, **kwargs):
        received.extend(contact_ids)

    contacts_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            contacts_upsert(
                rows=[
                    {"external_id": kept.external_id, "first_name": "New", "email_consent": True},
                    {
                        "external_id": unsubscribed.external_id,
                        "email_consent": False,
                        "status": "unsubscribed",
                    },
                ]
            )
    finally:
        contacts_changed.disconnect(receiver)
    assert received == [unsubscribed.pk]
    unsubscribed.refresh_from_db()
    assert unsubscribed.email_consent_source == Contact.ConsentSource.IMPORT


def test_missing_keys_keep_stored_values():
    contact = ContactFactory(phone="+4915112345678", country="DE")
    contacts_upsert(rows=[{"external_id": contact.external_id, "first_name": "Bea"}])
    contact.refresh_from_db()
    assert (contact.first_name, contact.phone, contact.country) == ("Bea", "+4915112345678", "DE")


def test_same_email_for_two_ids_in_one_batch_is_an_error():
    with pytest.raises(RowErrors) as raised:
        contacts_upsert(
            rows=[
                {"external_id": "A", "email": "x@example.com", "_row": 2},
                {"external_id": "B", "email": "x@example.com", "_row": 3},
            ]
        )
    assert raised.value.errors[0].row == 3
    assert Contact.objects.count() == 0


def test_order_lines_are_replaced_on_reimport():
    line = OrderLineFactory()
    order = line.order
    orders_upsert(
        orders=[
            {
                "order_id": order.external_id,
                "customer_id": order.contact.external_id,
                "placed_at": order.placed_at,
                "lines": [{"sku": "NEW-1", "product_name": "New", "quantity": 1, "unit_price": 5}],
            }
        ]
    )
    order.refresh_from_db()
    assert list(order.lines.values_list("sku", flat=True)) == ["NEW-1"]
    assert str(order.total) == "5.00"
    assert Order.objects.count() == 1


def test_events_for_unknown_email_create_the_contact():
    events_record(events=[{"email": "new@example.com", "kind": "cart_add", "external_id": "E1"}])
    assert Event.objects.get().contact.email == "new@example.com"


def test_paginator_counts_at_most_the_cap(monkeypatch):
    ContactFactory.create_batch(5)
    monkeypatch.setattr("contacts.paginator.CAP", 3)
    queryset = Contact.objects.filter(email__isnull=False).order_by("pk")
    paginator = LargeTablePaginator(queryset, 2)
    assert paginator.count == 3
    assert paginator.num_pages == 2


def test_paginator_uses_the_planner_estimate_on_big_unfiltered_postgres_tables(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    ContactFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    monkeypatch.setattr("contacts.paginator.CAP", 1)
    assert LargeTablePaginator(Contact.objects.order_by("pk"), 2).count == 3


def test_import_job_runs_once_and_records_errors(tmp_path, settings):
    from django.core.files.base import ContentFile

    job = ImportJob(kind="contacts")
    job.file.save("bad.csv", ContentFile(b"email\nnot-an-email\n"), save=True)
    result = import_job_run(job_id=job.pk)
    assert not result.ok
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    message = "'not-an-email' is not a valid email address."
    assert job.errors == [{"row": 2, "column": "email", "message": message}]
    assert import_job_run(job_id=job.pk) is None


def test_a_stale_running_import_job_can_be_taken_over():
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    job = ImportJob(kind="contacts", status=ImportJob.Status.RUNNING, started_at=timezone.now())
    job.file.save("c.csv", ContentFile(b"email\na@example.com\n"), save=True)
    assert import_job_run(job_id=job.pk) is None
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=3))
    assert import_job_run(job_id=job.pk).created == 1


def test_admin_consent_change_sends_contacts_changed(admin_client, django_capture_on_commit_callbacks):
    contact = ContactFactory(email_consent=True)
    received = []

    def receiver(sender, contact_ids, **kwargs):
        received.extend(contact_ids)

    contacts_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                f"/admin/contacts/contact/{contact.pk}/change/",
                {
                    "external_id": contact.external_id,
                    "email": contact.email,
                    "status": "active",
                    "attributes": "{}",
                },
            )
    finally:
        contacts_changed.disconnect(receiver)
    assert response.status_code == 302, response.content
    contact.refresh_from_db()
    assert not contact.email_consent
    assert contact.email_consent_source == Contact.ConsentSource.ADMIN
    assert received == [contact.pk]


def test_a_failing_receiver_stops_neither_others_nor_the_import(django_capture_on_commit_callbacks, caplog):
    from contacts.signals import orders_upserted

    received = []

    def broken(sender, order_ids, **kwargs):
        raise RuntimeError("redemption matching exploded")

    def later(sender, order_ids, **kwargs):
        received.append(order_ids)

    orders_upserted.connect(broken, dispatch_uid="test-broken")
    orders_upserted.connect(later, dispatch_uid="test-later")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            orders_upsert(
                orders=[
                    {
                        "order_id": "A-1",
                        "email": "ann@example.com",
                        "placed_at": timezone.now(),
                        "lines": [{"sku": "S-1", "product_name": "Sock", "quantity": 2, "unit_price": 5}],
                    }
                ]
            )
    finally:
        orders_upserted.disconnect(dispatch_uid="test-broken")
        orders_upserted.disconnect(dispatch_uid="test-later")

    order = Order.objects.get(external_id="A-1")
    assert received == [[order.pk]]
    assert "redemption matching exploded" in caplog.text
