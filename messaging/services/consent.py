"""Consent, preferences and unsubscribe."""

from __future__ import annotations

from django.db import transaction
from django.utils.timezone import now

from contacts.models import Contact, Event
from messaging.models import Channel, Message
from messaging.services.common import _contacts_changed_on_commit

CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PUSH)


def contact_preferences_update(
    *,
    contact_id: int,
    consents: dict[str, bool],
    source: str = Contact.ConsentSource.PREFERENCES,
    message_id: int | None = None,
) -> bool:
    """Set per-channel consent. Turning a channel off records an unsubscribe event; a contact left
    with no consent at all becomes `unsubscribed`; one who opts in again becomes `active` (unless
    bounced or anonymized). Sends contacts_changed after commit. Returns whether anything changed."""
    moment = now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None or contact.status == Contact.Status.ANONYMIZED:
            return False
        changes: dict[str, object] = {}
        turned_off: list[str] = []
        for channel, wanted in consents.items():
            if channel not in CHANNELS or getattr(contact, f"{channel}_consent") == wanted:
                continue
            changes.update(
                {
                    f"{channel}_consent": wanted,
                    f"{channel}_consent_at": moment,
                    f"{channel}_consent_source": source,
                }
            )
            if not wanted:
                turned_off.append(channel)
        if not changes:
            return False
        remaining = any(changes.get(f"{c}_consent", getattr(contact, f"{c}_consent")) for c in CHANNELS)
        if not remaining and contact.status == Contact.Status.ACTIVE:
            changes["status"] = Contact.Status.UNSUBSCRIBED
        elif remaining and contact.status == Contact.Status.UNSUBSCRIBED:
            changes["status"] = Contact.Status.ACTIVE
        changes["updated_at"] = moment
        Contact.objects.filter(pk=contact_id).update(**changes)
        if turned_off:
            Event.objects.bulk_create(
                Event(
                    contact_id=contact_id,
                    kind=Event.Kind.UNSUBSCRIBE,
                    occurred_at=moment,
                    message_id=message_id,
                    properties={"channel": channel, "source": source},
                )
                for channel in turned_off
            )
            if message_id:
                Message.objects.filter(
                    pk=message_id, contact_id=contact_id, channel__in=turned_off, unsubscribed_at__isnull=True
                ).update(unsubscribed_at=moment)
        _contacts_changed_on_commit([contact_id])
    return True


def unsubscribe_channel(*, contact_id: int, message_id: int | None) -> str:
    """The channel an unsubscribe link is about: its message's (an SMS link stops SMS), else email."""
    if message_id is None:
        return Channel.EMAIL
    channel = (
        Message.objects.filter(pk=message_id, contact_id=contact_id).values_list("channel", flat=True).first()
    )
    return channel or Channel.EMAIL


def contact_unsubscribe(
    *, contact_id: int, message_id: int | None = None, channel: str | None = None
) -> bool:
    """The unsubscribe link / List-Unsubscribe one-click: consent off for that channel (default: the
    channel of `message_id`, else email)."""
    if channel is None:
        channel = unsubscribe_channel(contact_id=contact_id, message_id=message_id)
    return contact_preferences_update(
        contact_id=contact_id,
        consents={channel: False},
        source=Contact.ConsentSource.UNSUBSCRIBE,
        message_id=message_id,
    )
