"""Update contact: set a custom attribute, add/remove a tag, or give/withdraw consent. Batched writes."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import connection

from journeys.steps.base import Names, StepKind, StepResult, require

ACTIONS = ("set_attribute", "add_tag", "remove_tag", "set_consent")
CHANNELS = ("email", "sms", "push")


def attribute_set(*, contact_ids: list[int], key: str, value, now) -> int:
    """Set one custom attribute on many contacts in one UPDATE, merging into the JSON in SQL, so a
    concurrent change to another attribute (an import, a survey answer) is never overwritten."""
    from contacts.models import Contact

    if not contact_ids:
        return 0
    qn = connection.ops.quote_name
    table = qn(Contact._meta.db_table)
    updated_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET attributes = COALESCE(attributes, '{{}}'::jsonb) || "
                f"jsonb_build_object(%s::text, %s::jsonb), updated_at = %s WHERE id = ANY(%s)",
                [key, json.dumps(value), updated_at, list(contact_ids)],
            )
        else:
            path = '$."' + key.replace('"', "") + '"'
            for start in range(0, len(contact_ids), 900):
                chunk = contact_ids[start : start + 900]
                cursor.execute(
                    f"UPDATE {table} SET attributes = json_set(COALESCE(attributes, '{{}}'), %s, json(%s)), "
                    f"updated_at = %s WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                    [path, json.dumps(value), updated_at, *chunk],
                )
        return cursor.rowcount


class UpdateContact(StepKind):
    kind = "update_contact"
    label = "Update contact"

    def validate(self, config: dict) -> dict:
        config = dict(config or {})
        action = config.get("action")
        if action not in ACTIONS:
            raise ValidationError({"action": f"One of {', '.join(ACTIONS)}."})
        if action == "set_attribute":
            return {
                "action": action,
                "attribute": str(require(config, "attribute")),
                "value": config.get("value"),
            }
        if action in ("add_tag", "remove_tag"):
            return {"action": action, "tag": str(require(config, "tag")).strip()}
        channel = config.get("channel")
        if channel not in CHANNELS:
            raise ValidationError({"channel": f"One of {', '.join(CHANNELS)}."})
        return {"action": action, "channel": channel, "value": bool(config.get("value"))}

    def run(self, *, step, enrollments, ctx):
        from contacts.models import Contact, Tag

        config = step.config
        action = config["action"]
        contact_ids = [e.contact_id for e in enrollments]
        if action == "set_attribute":
            attribute_set(
                contact_ids=contact_ids, key=config["attribute"], value=config["value"], now=ctx.now
            )
            for e in enrollments:  # later steps of this batch see the new value
                e.contact.attributes = {**(e.contact.attributes or {}), config["attribute"]: config["value"]}
        elif action in ("add_tag", "remove_tag"):
            tag, _ = Tag.objects.get_or_create(name=config["tag"])
            through = Contact.tags.through
            if action == "add_tag":
                through.objects.bulk_create(
                    [through(contact_id=cid, tag_id=tag.id) for cid in contact_ids], ignore_conflicts=True
                )
            else:
                through.objects.filter(tag_id=tag.id, contact_id__in=contact_ids).delete()
        else:
            channel, value = config["channel"], config["value"]
            # Giving consent only where it was missing; never re-consent an unsubscribed contact silently.
            Contact.objects.filter(id__in=contact_ids).exclude(**{f"{channel}_consent": value}).update(
                **{
                    f"{channel}_consent": value,
                    f"{channel}_consent_at": ctx.now,
                    f"{channel}_consent_source": Contact.ConsentSource.JOURNEY,
                    "updated_at": ctx.now,
                }
            )
        return {e.id: StepResult("next", outcome="updated") for e in enrollments}

    def describe(self, config: dict, names: Names | None = None) -> str:
        return " ".join(str(v) for v in config.values())
