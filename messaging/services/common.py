"""Helpers shared by the messaging services."""

from __future__ import annotations

from collections.abc import Iterator

from contacts.models import Contact
from contacts.signals import contacts_changed, signal_send_on_commit

CHUNK = 1000


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _contacts_changed_on_commit(contact_ids: list[int]) -> None:
    signal_send_on_commit(contacts_changed, sender=Contact, contact_ids=contact_ids)
