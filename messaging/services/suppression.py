"""Who may get a message on a channel: consent, status, address."""

from __future__ import annotations

from collections.abc import Iterable
from email.utils import getaddresses

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from contacts.models import Contact
from messaging.models import Channel, PushSubscription
from messaging.services.common import CHUNK, _chunks


def email_address_valid(address: str) -> bool:
    """One plain address (no display name, no list, no CR/LF): what a contact's email must be."""
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def from_email_problem(value: str) -> str:
    """Why a template's From is unusable ("" if fine): one address, optionally with a name."""
    if not value:
        return ""
    if "\r" in value or "\n" in value:
        return "Must be on one line."
    addresses = getaddresses([value])
    if len(addresses) != 1 or not email_address_valid(addresses[0][1]):
        return "Must be one email address, e.g. 'Shop <news@shop.example>'."
    return ""


def _suppression_reason(*, status: str, consent: bool, address: str, channel: str, has_push: bool) -> str:
    if status != Contact.Status.ACTIVE:
        return f"contact {status}"
    if not consent:
        return f"no {channel} consent"
    if channel == Channel.EMAIL and not address:
        return "no email address"
    if channel == Channel.EMAIL and not email_address_valid(address):
        return "invalid email address"
    if channel == Channel.SMS and not address:
        return "no phone number"
    if channel == Channel.PUSH and not has_push:
        return "no active push subscription"
    return ""


def _address(channel: str, email: str | None, phone: str | None) -> str:
    if channel == Channel.EMAIL:
        return email or ""
    if channel == Channel.SMS:
        return phone or ""
    return ""


def _push_subscribed(contact_ids: Iterable[int]) -> set[int]:
    subscribed: set[int] = set()
    for chunk in _chunks(list(contact_ids), CHUNK):
        subscribed.update(
            PushSubscription.objects.filter(contact_id__in=chunk, active=True)
            .values_list("contact_id", flat=True)
            .distinct()
        )
    return subscribed
