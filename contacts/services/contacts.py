"""Create or update contacts in batches (CSV import, API, orders for unknown customers)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from contacts.models import Contact, Tag
from contacts.services.attributes import attributes_check
from contacts.services.bulk import rows_write, values_in
from contacts.services.results import RowError, RowErrors, UpsertResult
from contacts.signals import contacts_changed, signal_send_on_commit

CHANNELS = ("email", "sms", "push")
SUPPRESSED = (Contact.Status.UNSUBSCRIBED, Contact.Status.BOUNCED)
# Plain fields a row may set; consent, tags and attributes are handled separately.
PLAIN_FIELDS = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "country",
    "timezone",
    "signed_up_at",
    "status",
    "last_activity_at",
)
CONSENT_FIELDS = tuple(f"{c}_consent{s}" for c in CHANNELS for s in ("", "_at", "_source"))
WRITE_FIELDS = (*PLAIN_FIELDS, *CONSENT_FIELDS, "attributes", "updated_at")
EXISTING_VALUES = ("id", *PLAIN_FIELDS, *CONSENT_FIELDS, "attributes", "created_at")
BATCH_SIZE = 5000
NEW_DEFAULTS: dict[str, Any] = {
    "external_id": None,
    "email": None,
    "phone": "",
    "first_name": "",
    "last_name": "",
    "locale": "",
    "country": "",
    "timezone": "",
    "signed_up_at": None,
    "last_activity_at": None,
    "status": Contact.Status.ACTIVE,
    "attributes": {},
    **{f"{c}_consent": False for c in CHANNELS},
    **{f"{c}_consent_at": None for c in CHANNELS},
    **{f"{c}_consent_source": "" for c in CHANNELS},
}


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _merge(earlier: dict, row: dict) -> dict:
    """Two rows about one contact: later non-empty values win; tags and attributes add up."""
    merged = {**earlier, **{k: v for k, v in row.items() if v is not None}}
    if earlier.get("tags") and row.get("tags"):
        merged["tags"] = list(dict.fromkeys([*earlier["tags"], *row["tags"]]))
    if earlier.get("attributes") and row.get("attributes"):
        merged["attributes"] = {**earlier["attributes"], **row["attributes"]}
    return merged


def _dedupe(rows: list[dict]) -> tuple[list[dict], list[RowError]]:
    """Merge rows about the same contact (same external id, or same email without id), see _merge.
    The same email on two different customer ids is a row error."""
    merged: dict[str, dict] = {}
    email_key: dict[str, str] = {}
    errors: list[RowError] = []
    for row in rows:
        external_id, email = row.get("external_id"), row.get("email")
        if external_id:
            key = f"x:{external_id}"
            other = email_key.get(email) if email else None
            if other and other != key and other.startswith("x:"):
                errors.append(
                    RowError(row.get("_row", 0), "email", f"{email} is also used by customer {other[2:]}.")
                )
                continue
            if other and other.startswith("e:"):
                # An earlier row had this email without an id: same person.
                row = _merge(merged.pop(other), row)
        elif email:
            key = email_key.get(email, f"e:{email}")
        else:
            errors.append(RowError(row.get("_row", 0), "email", "A customer id or an email is required."))
            continue
        if key in merged:
            row = _merge(merged[key], row)
        merged[key] = row
        if email:
            email_key[email] = key
    return list(merged.values()), errors


@transaction.atomic
def contacts_upsert(
    *, rows: list[dict[str, Any]], source: str = Contact.ConsentSource.IMPORT, now: datetime | None = None
) -> UpsertResult:
    """Create or update contacts matched by external id, else by email.

    Each row holds cleaned values for any subset of PLAIN_FIELDS plus `email_consent`,
    `sms_consent`, `push_consent` (bool), `tags` (list of names), `attributes` (dict, merged
    into the stored one) and `_row` (number for error messages). Keys missing from a row keep
    the stored value. A consent change stamps `<channel>_consent_at` and `_source`.
    Raises RowErrors (nothing written) when an email belongs to another customer id.
    """
    now = now or timezone.now()
    result = UpsertResult()
    changed_ids: list[int] = []
    for batch in _chunks(rows, BATCH_SIZE):
        batch_result, batch_changed = _upsert_batch(batch, source=source, now=now)
        result.add(batch_result)
        changed_ids.extend(batch_changed)
    if changed_ids:
        signal_send_on_commit(contacts_changed, sender=Contact, contact_ids=changed_ids)
    return result


def _upsert_batch(rows: list[dict], *, source: str, now: datetime) -> tuple[UpsertResult, list[int]]:
    rows, errors = _dedupe(rows)
    external_ids = [r["external_id"] for r in rows if r.get("external_id")]
    emails = [r["email"] for r in rows if r.get("email")]
    existing = _existing_fetch(external_ids=external_ids, emails=emails)
    by_external = {}
    by_email = {}
    for values in existing:
        if values["external_id"]:
            by_external[values["external_id"]] = values
        if values["email"]:
            by_email[values["email"]] = values

    existing_rows: list[dict] = []
    new_rows: list[dict] = []
    tag_rows: list[tuple[dict, list[str]]] = []
    consent_changed: list[dict] = []
    for row in rows:
        external_id, email = row.get("external_id"), row.get("email")
        current = by_external.get(external_id) if external_id else None
        owner = by_email.get(email) if email else None
        if current is None and owner is not None:
            if external_id and owner["external_id"] and owner["external_id"] != external_id:
                errors.append(
                    RowError(
                        row.get("_row", 0), "email", f"{email} belongs to customer {owner['external_id']}."
                    )
                )
                continue
            current = owner
        elif current is not None and owner is not None and owner["id"] != current["id"]:
            errors.append(
                RowError(
                    row.get("_row", 0), "email", f"{email} belongs to another contact (id {owner['id']})."
                )
            )
            continue
        values: dict[str, Any] = dict(current) if current else {**NEW_DEFAULTS, "created_at": now}
        for name in PLAIN_FIELDS:
            if row.get(name) is not None:
                values[name] = row[name]
        if current and current["status"] in SUPPRESSED and values["status"] == Contact.Status.ACTIVE:
            # A shop file or request says "active" by default: it must not undo an unsubscribe or
            # a bounce recorded here. Reactivating is done on the contact page.
            values["status"] = current["status"]
        for channel in CHANNELS:
            given = row.get(f"{channel}_consent")
            if given is not None and (current is None or given != current[f"{channel}_consent"]):
                values[f"{channel}_consent"] = given
                values[f"{channel}_consent_at"] = row.get(f"{channel}_consent_at") or now
                values[f"{channel}_consent_source"] = source
        if row.get("attributes"):
            merged = {**(values.get("attributes") or {}), **row["attributes"]}
            try:
                attributes_check(merged)  # the stored ones plus the new ones
            except ValueError as exc:
                errors.append(RowError(row.get("_row", 0), "attributes", str(exc)))
                continue
            values["attributes"] = merged
        values["updated_at"] = now
        if current:
            existing_rows.append(values)
            if values["status"] != current["status"] or any(
                values[f"{c}_consent"] != current[f"{c}_consent"] for c in CHANNELS
            ):
                consent_changed.append(values)
        else:
            new_rows.append(values)
        if row.get("tags"):
            tag_rows.append((values, row["tags"]))
    if errors:
        raise RowErrors(errors)

    rows_write(
        model=Contact,
        rows=existing_rows,
        fields=("id", *WRITE_FIELDS, "created_at"),
        conflict_fields=("id",),
        update_fields=WRITE_FIELDS,
    )
    rows_write(model=Contact, rows=new_rows, fields=(*WRITE_FIELDS, "created_at"))
    _pks_ensure(new_rows)
    if tag_rows:
        _tags_add(tag_rows)
    return (
        UpsertResult(
            created=len(new_rows), updated=len(existing_rows), ids=[v["id"] for v in existing_rows + new_rows]
        ),
        [v["id"] for v in consent_changed],
    )


DATETIME_FIELDS = frozenset(
    ("signed_up_at", "last_activity_at", "created_at", *(f"{c}_consent_at" for c in CHANNELS))
)
BOOLEAN_FIELDS = frozenset(f"{c}_consent" for c in CHANNELS)


def _existing_fetch(*, external_ids: list[str], emails: list[str]) -> list[dict]:
    """Stored contacts matching the batch, as field dicts (one raw query; what Django's
    from_db converters would do, minus their per-value overhead)."""
    raw = values_in(
        model=Contact, columns=EXISTING_VALUES, where={"external_id": external_ids, "email": emails}
    )
    if not raw:
        return []
    sqlite = connection.vendor == "sqlite"
    result = []
    for values in raw:
        row = dict(zip(EXISTING_VALUES, values, strict=True))
        if sqlite:
            for name in DATETIME_FIELDS:
                value = row[name]
                if isinstance(value, str):
                    value = datetime.fromisoformat(value)
                if value is not None and value.tzinfo is None:
                    row[name] = value.replace(tzinfo=UTC)
            for name in BOOLEAN_FIELDS:
                row[name] = bool(row[name])
        if isinstance(row["attributes"], str | bytes):
            row["attributes"] = json.loads(row["attributes"])
        result.append(row)
    return result


def _pks_ensure(rows: list[dict]) -> None:
    """Ids of newly inserted rows, looked up by their natural keys (one query)."""
    if not rows:
        return
    keyed = values_in(
        model=Contact,
        columns=("id", "external_id", "email"),
        where={
            "external_id": [r["external_id"] for r in rows if r.get("external_id")],
            "email": [r["email"] for r in rows if r.get("email")],
        },
    )
    by_external = {x: i for i, x, _ in keyed if x}
    by_email = {e: i for i, _, e in keyed if e}
    for row in rows:
        row["id"] = by_external.get(row.get("external_id")) or by_email.get(row.get("email"))


def _tags_add(tag_rows: list[tuple[dict, list[str]]]) -> None:
    names = sorted({name for _, names in tag_rows for name in names})
    Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
    tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    through = Contact.tags.through
    through.objects.bulk_create(
        [through(contact_id=c["id"], tag_id=tag_ids[n]) for c, names in tag_rows for n in names],
        ignore_conflicts=True,
        batch_size=BATCH_SIZE,
    )


def contacts_resolve(
    *, rows: list[dict[str, Any]], source: str = Contact.ConsentSource.IMPORT
) -> dict[tuple[str | None, str | None], int]:
    """Map rows' (customer_id, email) to contact ids, creating contacts that do not exist yet.

    Matches by external id first, then by email. Used by orders and events; each row may also
    carry first_name / last_name (used only when the contact is created) and `_row`.
    """
    wanted: dict[tuple[str | None, str | None], dict] = {}
    for row in rows:
        key = (row.get("customer_id") or None, row.get("email") or None)
        if key != (None, None):
            wanted.setdefault(key, row)
    external_ids = [x for x, _ in wanted if x]
    emails = [e for _, e in wanted if e]

    def lookup() -> tuple[dict, dict]:
        found = values_in(
            model=Contact,
            columns=("id", "external_id", "email"),
            where={"external_id": external_ids, "email": emails},
        )
        return {x: i for i, x, _ in found if x}, {e: i for i, _, e in found if e}

    by_external, by_email = lookup()
    missing = [
        {
            "external_id": x,
            "email": e,
            "first_name": row.get("first_name"),
            "last_name": row.get("last_name"),
            "_row": row.get("_row", 0),
        }
        for (x, e), row in wanted.items()
        if not ((x and x in by_external) or (not x and e in by_email))
    ]
    if missing:
        # A new customer id whose email is known is that contact: the upsert links them.
        contacts_upsert(rows=missing, source=source)
        by_external, by_email = lookup()
    return {(x, e): (by_external.get(x) if x else None) or by_email[e] for x, e in wanted}
