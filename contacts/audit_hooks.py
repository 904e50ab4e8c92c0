"""The one place contacts writes audit entries (erasure, suppression lifted, access export).

TEMPORARY TARGET: the "security" work adds a `user` column and an audit service; after that merge,
point `audit_record` at that service (one call) and drop the fallback below. Until then it writes
journeys' existing AuditLog (looked up through the app registry, so contacts does not import
journeys) with the user's name in `detail`, and always logs.
"""

from __future__ import annotations

import logging

from django.apps import apps

logger = logging.getLogger("winback.audit")


def audit_record(
    *,
    action: str,
    contact_ids: list[int] | None = None,
    user=None,
    detail: str = "",
    count: int | None = None,
) -> None:
    """One entry per contact (or one without a contact): who, what, when. Never raises into the caller's
    transaction for a missing audit table; it is written in the caller's transaction otherwise."""
    who = getattr(user, "get_username", lambda: "")() if user is not None else ""
    text = f"{detail} (by {who})" if who else detail
    logger.info("audit %s contacts=%s user=%s %s", action, contact_ids or [], who or "-", detail)
    try:
        model = apps.get_model("journeys", "AuditLog")
    except LookupError:
        return
    ids = contact_ids or [0]
    model.objects.bulk_create(
        [model(action=action[:32], contact_id=contact_id, detail=text[:255]) for contact_id in ids],
        batch_size=1000,
    )
