"""Queueing: one Message row per idempotency key."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils.timezone import now

from contacts.models import Contact
from messaging.models import Channel, Message, MessageTemplate
from messaging.selectors import context_encode
from messaging.services.common import CHUNK, _chunks
from messaging.services.suppression import _address, _push_subscribed, _suppression_reason

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    contact_id: int
    idempotency_key: str  # unique per message, e.g. f"enrollment:{enrollment_id}:step:{step_id}"
    context: dict  # extra template values, e.g. {"coupon": {"code": "...", "expires_at": date}}
    journey_id: int | None = None
    step_id: int | None = None
    enrollment_id: int | None = None


def messages_queue(*, template: MessageTemplate, outgoing: list[Outgoing]) -> list[int]:
    """Bulk-create one Message per idempotency key (existing keys are left alone), suppressed ones
    marked with a reason. Returns the ids of all queued messages for these keys, ready to deliver."""
    unique: dict[str, Outgoing] = {}
    for item in outgoing:
        unique.setdefault(item.idempotency_key, item)
    if not unique:
        return []
    channel = template.channel
    consent_field = f"{channel}_consent"
    contact_ids = list({item.contact_id for item in unique.values()})
    contacts: dict[int, dict] = {}
    for chunk in _chunks(contact_ids, CHUNK):
        for row in Contact.objects.filter(id__in=chunk).values(
            "id", "status", "email", "phone", consent_field
        ):
            contacts[row["id"]] = row
    subscribed = _push_subscribed(contacts) if channel == Channel.PUSH else set()

    rows = []
    created_at = now()
    for item in unique.values():
        contact = contacts.get(item.contact_id)
        if contact is None:
            logger.warning(
                "messages_queue: contact %s does not exist, %s skipped", item.contact_id, item.idempotency_key
            )
            continue
        address = _address(channel, contact["email"], contact["phone"])
        reason = _suppression_reason(
            status=contact["status"],
            consent=contact[consent_field],
            address=address,
            channel=channel,
            has_push=item.contact_id in subscribed,
        )
        rows.append(
            Message(
                contact_id=item.contact_id,
                channel=channel,
                template=template,
                idempotency_key=item.idempotency_key,
                status=Message.Status.SUPPRESSED if reason else Message.Status.QUEUED,
                reason=reason,
                journey_id=item.journey_id,
                step_id=item.step_id,
                enrollment_id=item.enrollment_id,
                context=context_encode(item.context or {}),
                to_address=address,
                created_at=created_at,
            )
        )
    if connection.vendor == "postgresql":
        return _insert_returning(rows)
    Message.objects.bulk_create(rows, batch_size=CHUNK, ignore_conflicts=True)
    return _queued_ids(list(unique))


def _queued_ids(keys: list[str]) -> list[int]:
    ready: list[int] = []
    for chunk in _chunks(keys, CHUNK):
        ready.extend(
            Message.objects.filter(idempotency_key__in=chunk, status=Message.Status.QUEUED)
            .order_by("id")
            .values_list("id", flat=True)
        )
    return ready


def _insert_returning(rows: list[Message]) -> list[int]:
    """PostgreSQL: one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING per chunk
    gives the new rows' ids and statuses; only keys that already existed (a re-run of the same batch)
    are read back. Columns with one value for the whole chunk are sent once, the others as arrays,
    bound on the server in binary (Django's cursor would quote every array element in Python)."""
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    table = connection.ops.quote_name(Message._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    ready: list[int] = []
    inserted: set[str] = set()
    for chunk in _chunks(rows, CHUNK):
        selected, arrays, array_params, scalar_params = [], [], [], []
        for field in fields:
            db_type = field.db_type(connection)
            if field.get_internal_type() == "JSONField":
                selected.append(f"v.c{len(arrays)}::{db_type}")
                arrays.append("%b::text[]")
                array_params.append(
                    [json.dumps(getattr(row, field.attname), cls=field.encoder) for row in chunk]
                )
                continue
            values = [field.get_db_prep_save(getattr(row, field.attname), connection) for row in chunk]
            if all(value == values[0] for value in values):
                selected.append(f"%b::{db_type}")
                scalar_params.append(values[0])
            else:
                selected.append(f"v.c{len(arrays)}::{db_type}")
                arrays.append("%b::text[]" if db_type.startswith("varchar") else f"%b::{db_type}[]")
                array_params.append(values)
        names = ", ".join(f"c{n}" for n in range(len(arrays)))
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT {', '.join(selected)} "
            f"FROM unnest({', '.join(arrays)}) AS v({names}) "
            "ON CONFLICT DO NOTHING RETURNING id, idempotency_key, status"
        )
        for pk, key, status in _fetch_binary(sql, [*scalar_params, *array_params]):
            inserted.add(key)
            if status == Message.Status.QUEUED:
                ready.append(pk)
    existing = [row.idempotency_key for row in rows if row.idempotency_key not in inserted]
    if existing:
        ready.extend(_queued_ids(existing))
    return sorted(ready)


def _fetch_binary(sql: str, params: list) -> list[tuple]:
    """PostgreSQL: run `sql` (%b placeholders) with server-side binary binding and return its rows.
    Errors are Django's, and the statement is logged like any other (query counts in tests hold)."""
    import psycopg

    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        result = cursor.fetchall()
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return result


def messages_deliver_later(*, message_ids: list[int]) -> None:
    """Enqueue delivery tasks after the current transaction commits (chunks of MESSAGING_BATCH_SIZE)."""
    from messaging import tasks

    for chunk in _chunks(list(message_ids), settings.MESSAGING_BATCH_SIZE):
        transaction.on_commit(lambda chunk=chunk: tasks.deliver.delay(chunk))
