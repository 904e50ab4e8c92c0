"""Access requests (GDPR art. 15): everything Winback holds about one contact, as one JSON document.

Reads other apps' tables read-only through the app registry (contacts does not import them), so an
app that is not installed is simply left out. Each section is one query.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from contacts.audit_hooks import audit_record
from contacts.models import Contact, Event, Order, OrderLine

PROFILE_FIELDS = [
    "id", "external_id", "email", "phone", "first_name", "last_name", "locale", "country", "timezone",
    "signed_up_at", "status", "last_activity_at", "created_at", "updated_at",
]  # fmt: skip
CONSENT_FIELDS = [f"{c}_consent{s}" for c in ("email", "sms", "push") for s in ("", "_at", "_source")]
# (section, app label, model, filter on the contact, fields)
OTHER_APPS = [
    ("messages", "messaging", "Message", "contact_id",
     ["id", "channel", "subject", "status", "reason", "to_address", "journey_id", "created_at", "sent_at"]),
    ("delivery_events", "messaging", "DeliveryEvent", "contact_id", ["kind", "email", "received_at"]),
    ("push_subscriptions", "messaging", "PushSubscription", "contact_id",
     ["id", "user_agent", "active", "created_at"]),
    ("coupons", "coupons", "Coupon", "contact_id",
     ["code", "pool__name", "assigned_at", "expires_at", "redeemed_at", "redemption"]),
    ("enrollments", "journeys", "Enrollment", "contact_id",
     ["id", "journey__name", "state", "entered_at", "exited_at", "exit_reason", "variant", "holdout"]),
    ("journey_steps", "journeys", "StepRun", "contact_id", None),
    ("score", "segments", "ContactScore", "contact_id", None),
    ("score_history", "segments", "ScoreChange", "contact_id", ["changed_at", "field", "old", "new"]),
]  # fmt: skip


def _rows(model, lookup: str, contact_id: int, fields: list[str] | None) -> list[dict[str, Any]]:
    names = {f.name for f in model._meta.concrete_fields} | {f.attname for f in model._meta.concrete_fields}
    wanted = [f for f in (fields or []) if f.split("__")[0] in names] or None
    return list(model.objects.filter(**{lookup: contact_id}).values(*(wanted or [])))


def contact_data_export(*, contact: Contact, user=None) -> dict[str, Any]:
    """Profile, consents (current values, when and how each was given), attributes, tags, orders with
    lines, events, messages (subject, status), coupons, enrollments, score and score history. Audited."""
    values = (
        Contact.objects.filter(pk=contact.pk).values(*PROFILE_FIELDS, *CONSENT_FIELDS, "attributes").get()
    )
    orders = list(Order.objects.filter(contact_id=contact.pk).order_by("placed_at").values())
    lines = OrderLine.objects.filter(order__contact_id=contact.pk).values(
        "order_id", "product_id", "product__name", "sku", "quantity", "unit_price"
    )
    by_order: dict[int, list] = {}
    for line in lines:
        by_order.setdefault(line["order_id"], []).append(line)
    for order in orders:
        order["lines"] = by_order.get(order["id"], [])
    document: dict[str, Any] = {
        "exported_at": timezone.now(),
        "profile": {name: values[name] for name in PROFILE_FIELDS},
        "consents": {
            channel: {
                "given": values[f"{channel}_consent"],
                "changed_at": values[f"{channel}_consent_at"],
                "source": values[f"{channel}_consent_source"],
            }
            for channel in ("email", "sms", "push")
        },
        "attributes": values["attributes"],
        "tags": sorted(contact.tags.values_list("name", flat=True)),
        "orders": orders,
        "events": list(Event.objects.filter(contact_id=contact.pk).order_by("occurred_at").values()),
    }
    for section, app_label, model_name, lookup, fields in OTHER_APPS:
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            continue
        document[section] = _rows(model, lookup, contact.pk, fields)
    audit_record(action="contact_access_export", contact_ids=[contact.pk], user=user, detail="data export")
    return document


def contact_data_export_json(*, contact: Contact, user=None) -> bytes:
    return json.dumps(
        contact_data_export(contact=contact, user=user), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False
    ).encode()
