"""The suppression list: erased people stay erased (issue 12).

contacts_anonymize / contacts_delete add a keyed hash (HMAC-SHA256 with WINBACK_SUPPRESSION_KEY, or
a key derived from SECRET_KEY) of each erased person's normalised email and phone; the plain values
are never stored. Imports (CSV, Shopify, API) skip rows whose email or phone matches an active entry
and report them as "suppressed (erased on DATE)". A marketer may lift the entry for one person, with
a reason (audited); erasing the person again re-arms it.

Rotating the key (or SECRET_KEY without WINBACK_SUPPRESSION_KEY) makes old entries unmatchable: set
WINBACK_SUPPRESSION_KEY in production and keep it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts.audit_hooks import audit_record
from contacts.models import Suppression
from contacts.services.normalise import email_normalise, phone_normalise


def _key() -> bytes:
    configured = getattr(settings, "WINBACK_SUPPRESSION_KEY", "")
    if configured:
        return configured.encode()
    return hashlib.sha256(b"winback.suppression:" + settings.SECRET_KEY.encode()).digest()


def suppression_digest(*, kind: str, value: str) -> str:
    """HMAC-SHA256 of "kind:normalised value" (email lower-case, phone E.164)."""
    return hmac.new(_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _phone_key(phone: str) -> str:
    """E.164, as imports and the API store it; a phone typed in the admin is stored as typed."""
    try:
        return phone_normalise(value=phone) or ""
    except ValueError:
        return phone.strip()


def _digests(email: str | None, phone: str | None) -> list[tuple[str, str]]:
    found = []
    if email and email.strip():
        found.append((Suppression.Kind.EMAIL, suppression_digest(kind="email", value=email.strip().lower())))
    phone_key = _phone_key(phone) if phone else ""
    if phone_key:
        found.append((Suppression.Kind.PHONE, suppression_digest(kind="phone", value=phone_key)))
    return found


def suppressions_add(
    *, people: Iterable[tuple[str | None, str | None]], mode: str, source: str, at: datetime | None = None
) -> int:
    """Add (or re-arm) entries for (email, phone) pairs. Set-based; call inside the erasure transaction."""
    at = at or timezone.now()
    rows = {
        digest: Suppression(kind=kind, digest=digest, mode=mode, source=source[:32], erased_at=at)
        for email, phone in people
        for kind, digest in _digests(email, phone)
    }
    if not rows:
        return 0
    Suppression.objects.bulk_create(
        list(rows.values()),
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["digest"],
        update_fields=["mode", "source", "erased_at", "lifted_at", "lifted_by", "lift_reason"],
    )
    return len(rows)


def suppressed_lookup(*, people: Iterable[tuple[str | None, str | None]]) -> dict[str, datetime]:
    """{digest: erased_at} of the active entries matching any of the (email, phone) pairs. One query."""
    digests = {digest for email, phone in people for _kind, digest in _digests(email, phone)}
    if not digests:
        return {}
    return dict(
        Suppression.objects.filter(digest__in=digests, lifted_at__isnull=True).values_list(
            "digest", "erased_at"
        )
    )


def suppressed_rows(
    *, rows: list[dict], email_key: str = "email", phone_key: str = "phone"
) -> dict[int, str]:
    """{index in rows: "suppressed (erased on DATE)"} for rows of erased people."""
    people = [(row.get(email_key), row.get(phone_key)) for row in rows]
    active = suppressed_lookup(people=people)
    if not active:
        return {}
    found = {}
    for index, (email, phone) in enumerate(people):
        dates = [active[d] for _kind, d in _digests(email, phone) if d in active]
        if dates:
            found[index] = f"suppressed (erased on {timezone.localdate(max(dates)):%Y-%m-%d})"
    return found


class SuppressionLiftError(ValueError):
    pass


def suppression_lift(*, email: str = "", phone: str = "", reason: str, user=None) -> int:
    """Lift the active entries of one person (their email and/or phone), with a stated reason.

    Raises SuppressionLiftError for a missing reason or when no active entry matches. Audited.
    """
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise SuppressionLiftError("State why the suppression is lifted (at least 10 characters).")
    try:
        email_value = email_normalise(value=email) if email else None
        phone_value = phone_normalise(value=phone) if phone else None
    except ValueError as exc:
        raise SuppressionLiftError(str(exc)) from None
    digests = [digest for _kind, digest in _digests(email_value, phone_value)]
    if not digests:
        raise SuppressionLiftError("Enter the person's email address or phone number.")
    with transaction.atomic():
        entries = Suppression.objects.select_for_update().filter(digest__in=digests, lifted_at__isnull=True)
        ids = list(entries.values_list("pk", flat=True))
        if not ids:
            raise SuppressionLiftError("No active suppression matches this email address or phone number.")
        Suppression.objects.filter(pk__in=ids).update(
            lifted_at=timezone.now(),
            lifted_by=user if user and user.is_authenticated else None,
            lift_reason=reason[:500],
        )
        audit_record(
            action="suppression_lifted",
            user=user,
            detail=f"suppression entries {', '.join(map(str, ids))} lifted: {reason}",
        )
    return len(ids)
