"""The one place contacts writes audit entries (erasure, suppression lifted, access export).

Entries go to the product-wide audit trail (`audit.services`, who/when/what), with ids and counts only:
an erasure's entry never holds the erased values.
"""

from __future__ import annotations

import logging

from audit.services import audit_record as audit_entry_record
from audit.services import audit_record_many

logger = logging.getLogger("winback.audit")


def audit_record(
    *,
    action: str,
    contact_ids: list[int] | None = None,
    user=None,
    detail: str = "",
    count: int | None = None,
) -> None:
    """One entry per contact (or one without a contact), written in the caller's transaction."""
    action = action.replace("_", ".", 1) if action.startswith(("contact_", "suppression_")) else action
    changes = {"detail": detail, **({"count": count} if count is not None else {})}
    logger.info("audit %s contacts=%s %s", action, contact_ids or [], detail)
    if contact_ids:
        audit_record_many(
            user=user, action=action, object_type="contacts.contact", object_ids=contact_ids, changes=changes
        )
    else:
        audit_entry_record(user=user, action=action, object_type="contacts.suppression", changes=changes)
