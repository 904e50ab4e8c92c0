"""messaging's part of forgetting a contact: the contacts_forgotten receiver."""

import pytest

from contacts.services.forget import contacts_anonymize, contacts_delete
from messaging.models import DeliveryEvent, Message, PushSubscription
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _traces(contact, n):
    for i in range(n):
        Message.objects.create(
            contact=contact,
            channel="email",
            idempotency_key=f"k-{contact.pk}-{i}",
            status="sent",
            to_address=contact.email,
            subject=f"Hi {contact.first_name}",
            context={"coupon": "X1"},
        )
    PushSubscription.objects.create(
        contact=contact, endpoint=f"https://push.example/{contact.pk}", p256dh="k", auth="a"
    )
    DeliveryEvent.objects.create(
        kind="bounce", email=contact.email, contact=contact, payload={"to": contact.email}
    )


def test_anonymize_blanks_messages_drops_push_and_bounce_addresses():
    ada, bob = ContactFactory.create_batch(2)
    _traces(ada, 2)
    _traces(bob, 1)
    contacts_anonymize(contact_ids=[ada.pk], source="admin")
    left = Message.objects.filter(contact=ada)
    assert left.count() == 2 and set(left.values_list("status", flat=True)) == {
        "sent"
    }  # counts and caps stay
    assert set(left.values_list("to_address", "subject")) == {("", "")}
    assert list(left.values_list("context", flat=True)) == [{}, {}]
    assert not PushSubscription.objects.filter(contact=ada).exists()
    assert DeliveryEvent.objects.filter(contact=ada).values_list("email", "payload").get() == ("", {})
    assert Message.objects.get(contact=bob).to_address == bob.email  # others untouched
    assert PushSubscription.objects.filter(contact=bob).exists()


def test_delete_leaves_no_bounce_address_behind():
    ada = ContactFactory()
    _traces(ada, 1)
    contacts_delete(contact_ids=[ada.pk], source="admin")
    assert not Message.objects.exists() and not PushSubscription.objects.exists()
    assert DeliveryEvent.objects.values_list("contact_id", "email", "payload").get() == (None, "", {})


def test_receiver_cost_does_not_grow_with_contacts(django_assert_max_num_queries):
    people = ContactFactory.create_batch(5)
    for person in people:
        _traces(person, 2)
    # savepoint, tags, events, contacts, signal: deliveries, push, messages, release; plus the erasure
    # traces (contacts: read emails, suppression, change log x3, import files, audit; journeys: enrollments)
    with django_assert_max_num_queries(16):
        contacts_anonymize(contact_ids=[p.pk for p in people], source="admin")
