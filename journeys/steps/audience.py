"""Add to an ad audience export: SHA-256 of the normalised e-mail and phone (what ad platforms match on)."""

from __future__ import annotations

import hashlib

from journeys.steps.base import Names, StepKind, StepResult, model_exists, reference_describe


def sha256_normalised(value: str | None) -> str:
    """SHA-256 of the trimmed, lowercased value ("" stays "")."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    return hashlib.sha256(value.encode()).hexdigest()


def phone_normalised(value: str | None) -> str:
    """E.164 with the leading '+' (national numbers get the default prefix); "" when not a phone."""
    from contacts.services.normalise import phone_normalise

    try:
        return phone_normalise(value=value) or ""
    except ValueError:
        return ""


class AudienceAdd(StepKind):
    kind = "audience_add"
    label = "Add to ad audience export"

    def validate(self, config: dict) -> dict:
        return {
            "export_id": model_exists(
                "journeys", "AudienceExport", (config or {}).get("export_id"), "export_id"
            )
        }

    def run(self, *, step, enrollments, ctx):
        from journeys.models import AudienceMember

        AudienceMember.objects.bulk_create(
            [
                AudienceMember(
                    export_id=step.config["export_id"],
                    contact_id=e.contact_id,
                    email_sha256=sha256_normalised(e.contact.email),
                    phone_sha256=sha256_normalised(phone_normalised(e.contact.phone)),
                    added_at=ctx.now,
                )
                for e in enrollments
            ],
            ignore_conflicts=True,
        )
        return {e.id: StepResult("next", outcome="added") for e in enrollments}

    def describe(self, config: dict, names: Names | None = None) -> str:
        return reference_describe(config, "export_id", names)
