"""Forgetting a contact: contacts_anonymize / contacts_delete and the admin action."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Event, Order, Tag
from contacts.services.forget import contacts_anonymize, contacts_delete
from contacts.signals import contacts_changed, contacts_forgotten
from tests.factories import ContactFactory, EventFactory, OrderFactory

pytestmark = pytest.mark.django_db


def _people(n: int) -> list[Contact]:
    tag = Tag.objects.get_or_create(name="vip")[0]
    people = ContactFactory.create_batch(n, phone="+4915112345678", attributes={"shoe": 42}, sms_consent=True)
    for person in people:
        person.tags.add(tag)
        EventFactory(contact=person, kind="product_view", properties={"url": "/p/1", "email": person.email})
    return people


def test_anonymize_blanks_personal_data_strips_events_and_keeps_orders(django_capture_on_commit_callbacks):
    ada, bob = _people(2)
    OrderFactory(contact=ada)
    changed, forgotten = [], []
    contacts_changed.connect(h1 := lambda sender, **kw: changed.append(kw["contact_ids"]), weak=False)
    contacts_forgotten.connect(h2 := lambda sender, **kw: forgotten.append(kw), weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert contacts_anonymize(contact_ids=[ada.pk, ada.pk], source="admin") == 1
    finally:
        contacts_changed.disconnect(h1)
        contacts_forgotten.disconnect(h2)
    ada.refresh_from_db()
    assert (ada.email, ada.external_id, ada.phone, ada.first_name, ada.last_name) == (None, None, "", "", "")
    assert ada.attributes == {} and not ada.tags.exists() and ada.status == "anonymized"
    assert not (ada.email_consent or ada.sms_consent or ada.push_consent)
    assert list(Event.objects.filter(contact=ada).values_list("properties", flat=True)) == [{}]
    assert Order.objects.filter(contact=ada).exists()  # revenue reports keep the order
    assert changed == [[ada.pk]] and forgotten == [
        {"signal": contacts_forgotten, "contact_ids": [ada.pk], "mode": "anonymize"}
    ]
    bob.refresh_from_db()  # untouched
    assert bob.email and bob.tags.exists() and Event.objects.get(contact=bob).properties["url"] == "/p/1"


def test_anonymize_runs_a_fixed_number_of_queries_whatever_the_count():
    counts = []
    for n in (1, 6):
        ids = [c.pk for c in _people(n)]
        with CaptureQueriesContext(connection) as ctx:
            assert contacts_anonymize(contact_ids=ids, source="journey") == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_anonymize_nothing_is_free(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert contacts_anonymize(contact_ids=[], source="admin") == 0


def test_delete_removes_contacts_and_what_cascades_and_tells_receivers_first():
    ada, bob = _people(2)
    seen = []

    def receiver(sender, contact_ids, mode, **kwargs):
        seen.append((mode, contact_ids, Contact.objects.filter(pk__in=contact_ids).count()))

    contacts_forgotten.connect(receiver)
    try:
        assert contacts_delete(contact_ids=[ada.pk], source="journey") == 1
    finally:
        contacts_forgotten.disconnect(receiver)
    assert seen == [("delete", [ada.pk], 1)]  # sent while the rows still exist
    assert list(Contact.objects.values_list("pk", flat=True)) == [bob.pk]
    assert not Event.objects.filter(contact_id=ada.pk).exists()


def _action(admin_client, ids, **extra):
    return admin_client.post(
        "/admin/contacts/contact/",
        {"action": "anonymize_selected", "_selected_action": [str(i) for i in ids], **extra},
    )


def test_admin_action_asks_first_then_anonymizes(admin_client):
    ada, bob = _people(2)
    page = _action(admin_client, [ada.pk])
    assert page.status_code == 200
    body = page.content.decode()
    assert "This cannot be undone" in body and ada.email in body and bob.email not in body
    ada.refresh_from_db()
    assert ada.status == "active" and ada.email  # nothing happened yet
    done = _action(admin_client, [ada.pk], post="yes")
    assert done.status_code == 302
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert ada.status == "anonymized" and ada.email is None and bob.status == "active"


def test_admin_action_needs_the_delete_permission(client, django_user_model):
    from django.contrib.auth.models import Permission

    ada = ContactFactory()
    staff = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_contact", "change_contact"]))
    client.force_login(staff)
    listing = client.get("/admin/contacts/contact/")
    assert b"anonymize_selected" not in listing.content
    _action(client, [ada.pk], post="yes")
    ada.refresh_from_db()
    assert ada.status == "active"
    staff.user_permissions.add(Permission.objects.get(codename="delete_contact"))
    assert b"anonymize_selected" in client.get("/admin/contacts/contact/").content
