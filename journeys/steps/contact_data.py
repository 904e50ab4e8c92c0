"""Delete or anonymize contact (GDPR requests): audited with an AuditLog row per contact.

The personal data is removed by the contacts services (contacts_anonymize / contacts_delete), which
tell messaging through contacts_forgotten; this step writes journeys' own audit rows and removes
journeys' own ad-audience rows (hashes keyed by plain contact id). Nothing is kept to undo it.
Delete removes the contact (contacts_delete) after the batch is written (see the engine).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from journeys.steps.base import Names, StepKind, StepResult

MODES = ("anonymize", "delete")


def audience_rows_remove(*, contact_ids: list[int]) -> None:
    """Journeys' own rows keyed by plain contact ids (no FK, so no cascade): hashed e-mail/phone in
    ad audiences and segment snapshots. Everything else is forgotten by the contacts service."""
    from journeys.models import AudienceMember, JourneySegmentMember

    AudienceMember.objects.filter(contact_id__in=contact_ids).delete()
    JourneySegmentMember.objects.filter(contact_id__in=contact_ids).delete()


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
            from contacts.services.forget import contacts_anonymize

            audience_rows_remove(contact_ids=contact_ids)
            contacts_anonymize(contact_ids=contact_ids, source="journey")
            for e in enrollments:
                e.contact.status = "anonymized"
            return {
                e.id: StepResult("end", outcome="anonymized", exit=("completed", "anonymized"))
                for e in enrollments
            }
        audience_rows_remove(contact_ids=contact_ids)  # rows keyed by plain contact ids do not cascade
        ctx.delete_contact_ids.extend(contact_ids)
        return {
            e.id: StepResult("end", outcome="deleted", exit=("exited", "contact deleted"))
            for e in enrollments
        }

    def describe(self, config: dict, names: Names | None = None) -> str:
        return config.get("mode", "")
