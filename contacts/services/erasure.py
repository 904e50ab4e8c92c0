"""Traces of erased people outside their contact row: admin change-log text and uploaded import files.

Called by contacts_anonymize / contacts_delete with the emails they erase (read before blanking).
"""

from __future__ import annotations

import logging
import re

from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.db.models import Q

from contacts.models import Contact, ImportJob
from contacts.services.normalise import phone_normalise

logger = logging.getLogger(__name__)
ERASED = "[erased]"
CHUNK = 100


def _phone_forms(phones: list[str]) -> set[str]:
    """Each phone as stored (a phone typed in the admin keeps its spaces) and in E.164."""
    forms = set()
    for phone in phones:
        raw = (phone or "").strip()
        try:
            normalised = phone_normalise(value=raw) if raw else None
        except ValueError:
            normalised = None
        forms |= {form for form in (raw, normalised) if form and len(form) >= 6}
    return forms


def change_log_scrub(*, contact_ids: list[int], emails: list[str], phones: list[str] = ()) -> int:
    """Remove the emails and phones from admin LogEntry texts ("Email #2 to anna@…", "SMS #3 to +49…")
    and the contacts' own entries' object_repr. Returns entries changed."""
    changed = 0
    contact_type = None
    try:
        from django.contrib.contenttypes.models import ContentType

        contact_type = ContentType.objects.get_for_model(Contact)
    except Exception:  # pragma: no cover - contenttypes is installed with the admin
        logger.warning("contenttypes missing: contact change-log entries not scrubbed by id")
    if contact_type is not None:
        changed += LogEntry.objects.filter(
            content_type=contact_type, object_id__in=[str(i) for i in contact_ids]
        ).update(object_repr=f"Contact {ERASED}")
    lowered = sorted({e.lower() for e in emails if e} | _phone_forms(list(phones)))
    for start in range(0, len(lowered), CHUNK):
        chunk = lowered[start : start + CHUNK]
        match = Q()
        for email in chunk:
            match |= Q(object_repr__icontains=email) | Q(change_message__icontains=email)
        for entry in LogEntry.objects.filter(match).only("pk", "object_repr", "change_message"):
            repr_text, message = entry.object_repr, entry.change_message
            for email in chunk:
                repr_text = _replace(repr_text, email)
                message = _replace(message, email)
            LogEntry.objects.filter(pk=entry.pk).update(object_repr=repr_text[:200], change_message=message)
            changed += 1
    return changed


def _replace(text: str, email: str) -> str:
    lowered = text.lower()
    start = lowered.find(email)
    while start >= 0:
        text = text[:start] + ERASED + text[start + len(email) :]
        lowered = text.lower()
        start = lowered.find(email, start + len(ERASED))
    return text


READ_CHUNK = 1024 * 1024


# An address as it sits in a file (lower-cased): local part @ domain. Used to look the file's addresses
# up in a set of the erased ones, so the cost is one pass over the file whatever the number of emails.
_ADDRESS = re.compile(rb"[a-z0-9._%+\-!#$&'*/=?^`{|}~]+@[a-z0-9.\-]+")


class _Needles:
    """The erased emails, as a set for addresses found in the file (their tails included, so an email
    glued to a preceding word still matches) plus a plain substring search for the rare address the
    pattern cannot read whole (quoted local part, non-ASCII domain)."""

    def __init__(self, emails: list[bytes]) -> None:
        self.exact = {e for e in emails if _ADDRESS.fullmatch(e)}
        self.other = [e for e in emails if e not in self.exact]
        self.overlap = max(len(e) for e in emails) * 2

    def found_in(self, text: bytes) -> bool:
        if self.other and any(needle in text for needle in self.other):
            return True
        exact = self.exact
        for address in _ADDRESS.findall(text):
            local, _, domain = address.partition(b"@")
            domains = {domain, domain.rstrip(b".-")}
            for i in range(len(local)):
                for tail in domains:
                    if local[i:] + b"@" + tail in exact:
                        return True
        return False


def _file_contains(field, needles: _Needles) -> bool:
    """Whether the file holds any needle (case-insensitive), read in chunks with an overlap so a match
    across a chunk border is found; UTF-16 files are compared without their zero bytes."""
    tail = b""
    with field.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            window = (tail + chunk).lower()
            if needles.found_in(window.replace(b"\x00", b"")):
                return True
            tail = window[-needles.overlap :]
    return False


def import_files_forget(*, emails: list[str]) -> int:
    """Delete uploaded import files still on disk that contain any of the emails (after commit).

    The file is deleted whole (its job row keeps counts and errors): rewriting a CSV in place could
    leave a copy behind on a crash. Returns files scheduled for deletion.
    """
    emails_bytes = [e.lower().encode() for e in emails if e]
    if not emails_bytes:
        return 0
    needles = _Needles(emails_bytes)
    doomed = []
    for job in ImportJob.objects.exclude(file="").only("pk", "file").iterator():
        try:
            if _file_contains(job.file, needles):
                doomed.append((job.pk, job.file.name, job.file.storage))
        except OSError:
            continue
    if doomed:
        ImportJob.objects.filter(pk__in=[pk for pk, _name, _storage in doomed]).update(file="")

        def delete() -> None:
            for _pk, name, storage in doomed:
                try:
                    storage.delete(name)
                except OSError:
                    logger.exception("Could not delete import file %s of an erased person", name)

        transaction.on_commit(delete)
    return len(doomed)
