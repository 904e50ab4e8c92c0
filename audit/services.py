"""The one door for audit rows. Every app calls audit_record() (or audit_record_many() for sets).

    audit_record(*, user, action: str, obj=None, changes: dict | None = None,
                 object_type: str = "", object_id: str | int = "", object_repr: str = "",
                 source: str = "") -> AuditEntry

`user`: the acting user (None: the system, a worker); `action`: "<thing>.<verb>" such as
"journey.pause"; `obj`: the model instance changed (or pass object_type/object_id/object_repr, e.g.
for a contact already deleted); `changes`: {"field": [before, after]} or any JSON-able detail.
Personal data does not belong in `changes` or `object_repr` of an erasure: pass ids and counts.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import models

from audit import tracking
from audit.models import AuditEntry

MAX_VALUE_CHARS = 2000


def jsonable(value: Any) -> Any:
    """A value as it can be stored in `changes` (dates as ISO text, long text cut)."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "…"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _entry(
    *, user, action: str, obj, changes, object_type: str, object_id, object_repr: str, source: str
) -> AuditEntry:
    if user is None:
        user = tracking.current_user()
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id if object_id != "" else obj.pk
        object_repr = object_repr or str(obj)
    return AuditEntry(
        user=user,
        username=user.get_username() if user is not None else "",
        action=action[:64],
        object_type=object_type[:100],
        object_id="" if object_id is None else str(object_id)[:64],
        object_repr=object_repr[:200],
        changes=jsonable(changes or {}),
        source=(source or tracking.current_source())[:32],
    )


def audit_record(
    *,
    user,
    action: str,
    obj: models.Model | None = None,
    changes: dict | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    source: str = "",
) -> AuditEntry:
    """Record one change. `user=None` takes the user of the current request, if any."""
    entry = _entry(
        user=user,
        action=action,
        obj=obj,
        changes=changes,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        source=source,
    )
    entry.save()
    return entry


def audit_record_many(
    *,
    user,
    action: str,
    object_type: str,
    object_ids: Iterable[int | str],
    changes: dict | None = None,
    source: str = "",
) -> int:
    """One row per object (e.g. each erased contact), in one INSERT per 1000 rows."""
    entries = [
        _entry(
            user=user,
            action=action,
            obj=None,
            changes=changes,
            object_type=object_type,
            object_id=object_id,
            object_repr="",
            source=source,
        )
        for object_id in object_ids
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries)
