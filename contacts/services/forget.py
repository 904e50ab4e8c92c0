"""Forgetting a contact (GDPR erasure): the one door for anonymizing or deleting contacts.

Set-based, any number of ids in a constant number of queries. Other apps' personal data about the
contacts (messaging's addresses, subjects, template values and push endpoints) is removed by their
receivers of `contacts_forgotten`, sent inside the same transaction, so contacts never imports them.

Both add the person's email and phone to the suppression list (keyed hashes, services/suppression.py),
so imports and the API do not bring them back; scrub the admin change log and delete uploaded import
files that hold their email (services/erasure.py); and write an audit entry per contact
(audit_hooks.audit_record). journeys ends their enrollments ("erased") in its contacts_forgotten receiver.

external_id is blanked too (NULL): the shop's customer id points straight back at the person in the
shop's own database, so keeping it would keep the contact identifiable. The price: if the shop sends
the same customer again (import, API, an order), a new contact is created; re-importing a forgotten
person is the shop's call, not ours.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from contacts.audit_hooks import audit_record
from contacts.models import Contact, Event
from contacts.services.erasure import change_log_scrub, import_files_forget
from contacts.services.suppression import suppressions_add
from contacts.signals import contacts_changed, contacts_forgotten, signal_send_on_commit

logger = logging.getLogger(__name__)


def _erasure_traces(ids: list[int], *, mode: str, source: str, user=None) -> None:
    """Inside the erasure transaction, before the personal data goes: suppress, scrub, audit."""
    people = list(Contact.objects.filter(id__in=ids).values_list("email", "phone"))
    suppressions_add(people=people, mode=mode, source=source)
    emails = [email for email, _phone in people if email]
    change_log_scrub(contact_ids=ids, emails=emails, phones=[phone for _email, phone in people if phone])
    import_files_forget(emails=emails)
    if source != "journey":  # the journey's contact_data step writes its own entry, with the journey
        audit_record(action=f"contact_{mode}", contact_ids=ids, user=user, detail=f"erasure ({source})")


def contacts_anonymize(*, contact_ids: list[int], source: str, user=None) -> int:
    """Blank the contacts' personal data, irreversibly, and strip their events' properties.

    Email and external id become NULL, phone and names empty, attributes {}, tags cleared, every
    consent off, status 'anonymized'. Orders and events stay (revenue, counts) without personal
    data. Returns how many contacts were anonymized. contacts_changed is sent after commit.
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    with transaction.atomic():
        _erasure_traces(ids, mode="anonymize", source=source, user=user)
        Contact.tags.through.objects.filter(contact_id__in=ids).delete()
        Event.objects.filter(contact_id__in=ids).exclude(properties={}).update(properties={})
        count = Contact.objects.filter(id__in=ids).update(
            email=None,
            external_id=None,
            phone="",
            first_name="",
            last_name="",
            attributes={},
            email_consent=False,
            sms_consent=False,
            push_consent=False,
            status=Contact.Status.ANONYMIZED,
            updated_at=timezone.now(),
        )
        contacts_forgotten.send(sender=Contact, contact_ids=ids, mode="anonymize")
        signal_send_on_commit(contacts_changed, sender=Contact, contact_ids=ids)
    logger.info("Anonymized %d contacts (source: %s)", count, source)
    return count


def contacts_delete(*, contact_ids: list[int], source: str, user=None) -> int:
    """Delete the contacts and everything that cascades from them (orders, events, messages, push
    subscriptions). contacts_forgotten is sent first, inside the transaction, so apps holding rows
    keyed by plain contact ids (no FK) can remove them. Returns how many contacts were deleted."""
    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    with transaction.atomic():
        _erasure_traces(ids, mode="delete", source=source, user=user)
        contacts_forgotten.send(sender=Contact, contact_ids=ids, mode="delete")
        _, per_model = Contact.objects.filter(id__in=ids).delete()
    count = per_model.get(Contact._meta.label, 0)
    logger.info("Deleted %d contacts (source: %s)", count, source)
    return count
