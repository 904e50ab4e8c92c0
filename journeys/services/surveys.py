"""Survey answers land in the contact's custom attributes, under the `survey_` namespace."""

from __future__ import annotations

import re

from django.utils import timezone

# Answers never overwrite a contact's other attributes (ones imports, segments or coupons rely on):
# a question's attribute "nps" is stored as attributes["survey_nps"].
ATTRIBUTE_PREFIX = "survey_"
MAX_ANSWER_LENGTH = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def survey_answer_clean(value: str) -> str:
    """Drop control characters (a NUL breaks PostgreSQL's jsonb) and cap the length."""
    return _CONTROL.sub("", value).strip()[:MAX_ANSWER_LENGTH]


def survey_attribute(attribute: str) -> str:
    return f"{ATTRIBUTE_PREFIX}{attribute}"


def survey_answers_store(*, contact_id: int, answers: dict) -> bool:
    """Merge answers ({question attribute: value}) into contact.attributes under the survey
    namespace, in SQL (no lost update of other attributes). False when the contact is gone."""
    from contacts.models import Contact
    from journeys.steps.update_contact import attribute_set

    status = Contact.objects.filter(pk=contact_id).values_list("status", flat=True).first()
    if status is None or status == Contact.Status.ANONYMIZED:
        return False
    now = timezone.now()
    for attribute, value in answers.items():
        attribute_set(contact_ids=[contact_id], key=survey_attribute(attribute), value=value, now=now)
    return True
