"""Forgetting contacts (GDPR erasure) in messaging."""

from __future__ import annotations

from messaging.models import DeliveryEvent, Message, PushSubscription


def messages_forget(*, contact_ids: list[int], mode: str = "anonymize") -> None:
    """Remove what messaging holds that identifies these contacts, set-based (GDPR erasure).

    Bounce/complaint webhook rows lose their address and payload (they outlive a deleted contact:
    their FK is SET_NULL). On anonymize, messages keep status and dates (counts, caps, reports) but
    lose address, rendered subject and template values, and push subscriptions go; on delete those
    rows cascade with the contact anyway.
    """
    DeliveryEvent.objects.filter(contact_id__in=contact_ids).update(email="", payload={})
    if mode == "delete":
        return
    PushSubscription.objects.filter(contact_id__in=contact_ids).delete()
    Message.objects.filter(contact_id__in=contact_ids).update(to_address="", subject="", context={})


def on_contacts_forgotten(sender, *, contact_ids: list[int], mode: str, **kwargs) -> None:
    """Receiver of contacts.signals.contacts_forgotten (connected in MessagingConfig.ready())."""
    messages_forget(contact_ids=contact_ids, mode=mode)
