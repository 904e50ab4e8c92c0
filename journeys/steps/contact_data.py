"""Delete or anonymize contact (GDPR requests): audited with an AuditLog row per contact.

Anonymize blanks personal data and sets status 'anonymized' (orders stay for revenue reports);
the contact's messages keep their status and dates but lose address, subject and template values;
ad audience rows (hashes) and push subscriptions go. Nothing is kept to undo it: irreversible.
Delete removes the contact and everything that cascades from it, after the batch is written
(plus the audience rows, which reference contacts by plain id).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from journeys.steps.base import StepKind, StepResult

MODES = ("anonymize", "delete")


def personal_data_strip(*, contact_ids: list[int]) -> None:
    """What other tables hold about these contacts that identifies them (set-based):
    hashed e-mail/phone in ad audiences (journeys), push endpoints, and the address, rendered
    subject and template values of their messages (the message rows stay, for counts and caps)."""
    from journeys.models import AudienceMember, JourneySegmentMember

    AudienceMember.objects.filter(contact_id__in=contact_ids).delete()
    JourneySegmentMember.objects.filter(contact_id__in=contact_ids).delete()
    try:
        from messaging.models import Message, PushSubscription
    except ImportError:  # pragma: no cover - messaging is part of every install
        return
    PushSubscription.objects.filter(contact_id__in=contact_ids).delete()
    Message.objects.filter(contact_id__in=contact_ids).update(to_address="", subject="", context={})


def anonymize_contacts(*, contact_ids: list[int], now) -> int:
    from contacts.models import Contact

    personal_data_strip(contact_ids=contact_ids)
    Contact.tags.through.objects.filter(contact_id__in=contact_ids).delete()
    return Contact.objects.filter(id__in=contact_ids).update(
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
        updated_at=now,
    )


class ContactData(StepKind):
    kind = "contact_data"
    label = "Delete or anonymize contact"
    fixed_branches = ()

    def validate(self, config: dict) -> dict:
        mode = (config or {}).get("mode", "anonymize")
        if mode not in MODES:
            raise ValidationError({"mode": "anonymize or delete."})
        return {"mode": mode}

    def run(self, *, step, enrollments, ctx):
        from journeys.models import AuditLog

        mode = step.config["mode"]
        contact_ids = [e.contact_id for e in enrollments]
        AuditLog.objects.bulk_create(
            [
                AuditLog(
                    action=f"contact_{mode}",
                    contact_id=e.contact_id,
                    journey_id=e.journey_id,
                    enrollment_id=e.id,
                    detail=f"journey step {step.id}",
                    created_at=ctx.now,
                )
                for e in enrollments
            ]
        )
        if mode == "anonymize":
            anonymize_contacts(contact_ids=contact_ids, now=ctx.now)
            for e in enrollments:
                e.contact.status = "anonymized"
            return {
                e.id: StepResult("end", outcome="anonymized", exit=("completed", "anonymized"))
                for e in enrollments
            }
        personal_data_strip(contact_ids=contact_ids)  # rows keyed by plain contact ids do not cascade
        ctx.delete_contact_ids.extend(contact_ids)
        return {
            e.id: StepResult("end", outcome="deleted", exit=("exited", "contact deleted"))
            for e in enrollments
        }

    def describe(self, config: dict) -> str:
        return config.get("mode", "")
