"""Survey answers land in the contact's custom attributes."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone


@transaction.atomic
def survey_answers_store(*, contact_id: int, answers: dict) -> bool:
    """Merge answers into contact.attributes. Returns False when the contact no longer exists."""
    from contacts.models import Contact

    contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
    if contact is None or contact.status == Contact.Status.ANONYMIZED:
        return False
    contact.attributes = {**(contact.attributes or {}), **answers}
    contact.updated_at = timezone.now()
    contact.save(update_fields=["attributes", "updated_at"])
    return True
