"""Attribute split: several ways by a contact field or custom attribute value, plus a default branch."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from journeys.steps.base import Names, StepKind, StepResult, require

FIELDS = ("country", "locale", "status", "timezone")


def contact_value(contact, field: str):
    if field.startswith("attributes."):
        return (contact.attributes or {}).get(field.split(".", 1)[1])
    return getattr(contact, field, None)


class AttributeSplit(StepKind):
    kind = "attribute_split"
    label = "Attribute split"

    def validate(self, config: dict) -> dict:
        config = dict(config or {})
        field = str(require(config, "field"))
        if not (field.startswith("attributes.") and len(field) > len("attributes.")) and field not in FIELDS:
            raise ValidationError({"field": f"attributes.<name> or one of {', '.join(FIELDS)}."})
        values = [str(v) for v in require(config, "values", list)]
        if not values or len(set(values)) != len(values) or "default" in values:
            raise ValidationError({"values": "Distinct values (the 'default' branch catches the rest)."})
        return {"field": field, "values": values}

    def branches(self, config: dict) -> list[str]:
        return [*config.get("values", []), "default"]

    def run(self, *, step, enrollments, ctx):
        values = set(step.config["values"])
        results = {}
        for e in enrollments:
            value = contact_value(e.contact, step.config["field"])
            value = None if value is None else str(value)
            results[e.id] = StepResult(value if value in values else "default")
        return results

    def describe(self, config: dict, names: Names | None = None) -> str:
        return f"{config.get('field')}: {', '.join(config.get('values', []))} / default"
