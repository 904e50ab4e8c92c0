"""Provider webhooks: bounces and complaints."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.timezone import now

from contacts.models import Contact, Event
from messaging.models import DeliveryEvent, Message
from messaging.services.common import _contacts_changed_on_commit


def delivery_event_record(
    *, kind: str, email: str = "", message_id: int | None = None, payload: dict | None = None
) -> DeliveryEvent:
    """A bounce (contact -> bounced, message -> bounced) or complaint (email consent off,
    contact -> unsubscribed) reported by the provider. Logged as a DeliveryEvent either way."""
    if kind not in DeliveryEvent.Kind.values:
        raise ValidationError(f"Unknown delivery event type {kind!r} (bounce or complaint).")
    email = (email or "").strip().lower()
    message = Message.objects.filter(pk=message_id).first() if message_id else None
    contact_id = message.contact_id if message else None
    if contact_id is None and email:
        contact_id = Contact.objects.filter(email=email).values_list("id", flat=True).first()
    moment = now()
    with transaction.atomic():
        event = DeliveryEvent.objects.create(
            kind=kind, email=email, message=message, contact_id=contact_id, payload=payload or {}
        )
        if contact_id is None:
            return event
        live = Contact.objects.filter(pk=contact_id).exclude(status=Contact.Status.ANONYMIZED)
        if kind == DeliveryEvent.Kind.BOUNCE:
            live.update(status=Contact.Status.BOUNCED, updated_at=moment)
            if message:
                Message.objects.filter(pk=message.pk).update(status=Message.Status.BOUNCED, reason="bounced")
            Event.objects.create(
                contact_id=contact_id, kind=Event.Kind.BOUNCE, message_id=message_id, occurred_at=moment
            )
        else:
            live.update(
                email_consent=False,
                email_consent_at=moment,
                email_consent_source=Contact.ConsentSource.UNSUBSCRIBE,
                updated_at=moment,
            )
            live.filter(status=Contact.Status.ACTIVE).update(status=Contact.Status.UNSUBSCRIBED)
            if message:
                Message.objects.filter(pk=message.pk, unsubscribed_at__isnull=True).update(
                    unsubscribed_at=moment
                )
            Event.objects.create(
                contact_id=contact_id, kind=Event.Kind.COMPLAINT, message_id=message_id, occurred_at=moment
            )
        _contacts_changed_on_commit([contact_id])
    return event
