"""A believable demo shop, generated from a fixed seed with numpy and written in bulk.

About two years of orders with a November/December peak, a realistic mix of active,
one-time, defecting (90-365 days) and lost (>365 days) customers, products in categories
and brands, a consent mix, referral attributes, recent site visits and newsletter opens/clicks.
Demo rows are recognisable: contact ids start with "demo-", SKUs with "DEMO-".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from contacts.models import Contact, Event, Order, OrderLine, Product, Tag
from contacts.services.bulk import sequences_reset
from contacts.services.demo_rows import DEMO_PREFIX, SKU_PREFIX, demo_chunk_write, demo_products_write

CHUNK = 20_000
# From this size on (PostgreSQL), indexes and constraints of the filled tables are dropped for the load
# and rebuilt after it: one index build and one set-based foreign-key check per table instead of
# millions of index insertions and millions of deferred foreign-key trigger events at COMMIT.
REBUILD_FROM = 50_000


@dataclass
class DemoResult:
    created: bool
    contacts: int = 0
    products: int = 0
    orders: int = 0
    order_lines: int = 0
    events: int = 0
    message: str = ""


def demo_exists() -> bool:
    return Contact.objects.filter(external_id__startswith=DEMO_PREFIX).exists()


def demo_delete() -> None:
    """Remove demo rows (and, through the ORM, what other apps hold about demo contacts)."""
    demo_contacts = Contact.objects.filter(external_id__startswith=DEMO_PREFIX)
    OrderLine.objects.filter(order__contact__in=demo_contacts).delete()
    Event.objects.filter(contact__in=demo_contacts).delete()
    Order.objects.filter(contact__in=demo_contacts).delete()
    demo_contacts.delete()
    Product.objects.filter(sku__startswith=SKU_PREFIX).delete()


def demo_seed(
    *,
    contacts: int = 5000,
    seed: int = 42,
    progress: Callable[[str, int, int], None] | None = None,
    rebuild_indexes: bool | None = None,
    today: date | None = None,
) -> DemoResult:
    """Generate the demo shop unless one exists (then do nothing). All rows in bulk (COPY on PostgreSQL).

    `rebuild_indexes` (default: from REBUILD_FROM contacts on, PostgreSQL only): drop the indexes and
    constraints of the tables the demo fills for the load and rebuild them in the same transaction.
    """
    if demo_exists():
        return DemoResult(created=False, message="Demo data already exists; nothing to do (use --reset).")
    rng = np.random.default_rng(seed)
    # Every generated instant counts back from midnight UTC of `today` (default: the current date), never
    # from the current time: the same seed gives the same shop (calendar days included) all day long.
    today = today or timezone.now().astimezone(UTC).date()
    now = datetime(today.year, today.month, today.day, tzinfo=UTC)
    if rebuild_indexes is None:
        rebuild_indexes = contacts >= REBUILD_FROM
    rebuild_indexes = rebuild_indexes and connection.vendor == "postgresql"
    tables = [model._meta.db_table for model in (Contact, Order, OrderLine, Event, Contact.tags.through)]
    first_contact_id = (Contact.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    with transaction.atomic():
        if rebuild_indexes:
            # Before dropping indexes locks contacts_order: the order writers' lock of segments' purchase
            # stats, which their daily refresh takes exclusive (either order of the two is a deadlock).
            from segments.purchase_stats import purchase_stats_write_lock

            purchase_stats_write_lock()
        with (
            _indexes_rebuilt_after(tables) if rebuild_indexes else contextlib.nullcontext(),
            _order_triggers_paused() if rebuild_indexes else contextlib.nullcontext(),
        ):
            totals = _load(rng, now, contacts, progress)
        if rebuild_indexes:
            # The per-statement purchase-stats triggers were off for the load (a third of its time):
            # one set-based recompute of the new buyers instead, in the same transaction.
            from segments.purchase_stats import purchase_stats_recompute

            purchase_stats_recompute(contact_id_from=first_contact_id)
    if rebuild_indexes and not connection.in_atomic_block:
        # Index-only scans (segment rules on orders) need the visibility map that only VACUUM writes;
        # without it every index entry is checked against the table until autovacuum gets there.
        with connection.cursor() as cursor:
            for table in [*tables, "segments_contactpurchasestats"]:
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
    return totals


def _load(rng: np.random.Generator, now: datetime, contacts: int, progress) -> DemoResult:
    """Products, then the contacts in chunks with their orders, lines, events and tags."""
    product_ids, product_prices, product_skus = demo_products_write(rng, now)
    totals = DemoResult(created=True, products=len(product_ids))
    next_ids = {
        model: (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1 for model in (Contact, Order, OrderLine)
    }
    tags = {name: Tag.objects.get_or_create(name=name)[0].pk for name in ("VIP", "Newsletter", "Wholesale")}
    for start in range(0, contacts, CHUNK):
        size = min(CHUNK, contacts - start)
        demo_chunk_write(
            rng, now, start, size, next_ids, tags, product_ids, product_prices, product_skus, totals
        )
        if progress:
            progress("contacts", start + size, contacts)
    sequences_reset(Contact, Order, OrderLine, Event)
    return totals


@contextlib.contextmanager
def _order_triggers_paused() -> Iterator[None]:
    """PostgreSQL, inside the seed's transaction: the user triggers of contacts_order (segments' purchase
    stats) off for the load; the caller recomputes what they maintain."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE contacts_order DISABLE TRIGGER USER")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE contacts_order ENABLE TRIGGER USER")


@contextlib.contextmanager
def _indexes_rebuilt_after(tables: list[str]) -> Iterator[None]:
    """PostgreSQL, inside a transaction: drop the tables' foreign keys, unique constraints and secondary
    indexes (primary keys stay), yield for the load, then recreate them from their saved definitions and
    ANALYZE. Foreign keys come back validated by one join each; a bad row fails the whole load."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid), contype
            FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u')
            ORDER BY contype, conrelid, conname
            """,
            [tables],
        )
        constraints = cursor.fetchall()  # foreign keys ('f') sort before unique constraints ('u')
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                              AND k.conrelid = i.indrelid)
            ORDER BY 1
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _definition, _kind in constraints:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        for table, name, definition, _kind in reversed(constraints):  # unique first, then foreign keys
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
