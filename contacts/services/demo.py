"""A believable demo shop, generated from a fixed seed with numpy and written in bulk.

About two years of orders with a November/December peak, a realistic mix of active,
one-time, defecting (90-365 days) and lost (>365 days) customers, products in categories
and brands, a consent mix, referral attributes, recent site visits and newsletter opens/clicks.
Demo rows are recognisable: contact ids start with "demo-", SKUs with "DEMO-".
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from contacts.models import Contact, Event, Order, OrderLine, Product, Tag
from contacts.services.bulk import sequences_reset, tuples_insert

DEMO_PREFIX = "demo-"
SKU_PREFIX = "DEMO-"
CHUNK = 20_000
# From this size on (PostgreSQL), indexes and constraints of the filled tables are dropped for the load
# and rebuilt after it: one index build and one set-based foreign-key check per table instead of
# millions of index insertions and millions of deferred foreign-key trigger events at COMMIT.
REBUILD_FROM = 50_000
HISTORY_DAYS = 730
# Relative order volume by month (Jan..Dec): Black Friday and Christmas carry the year.
MONTH_WEIGHTS = np.array([0.7, 0.6, 0.7, 0.75, 0.8, 0.75, 0.7, 0.7, 0.8, 0.9, 1.6, 1.8])
CATALOGUE = {
    "Apparel": (
        ["Northwind", "Fjellstad", "Kestrel"],
        [
            "Organic Tee",
            "Merino Sweater",
            "Rain Jacket",
            "Linen Shirt",
            "Chinos",
            "Hoodie",
            "Wool Socks",
            "Puffer Vest",
        ],
        (15, 180),
    ),
    "Shoes": (["Stride", "Kestrel"], ["Trail Runner", "Leather Boot", "Canvas Sneaker", "Sandal"], (40, 220)),
    "Outdoor": (
        ["Fjellstad", "Summit & Co"],
        ["Camp Mug", "Trekking Poles", "Daypack", "Headlamp", "Sleeping Bag", "Water Bottle"],
        (10, 260),
    ),
    "Home": (
        ["Lumen & Co", "Hearth"],
        ["Desk Lamp", "Wool Throw", "Ceramic Vase", "Scented Candle", "Linen Napkins"],
        (12, 160),
    ),
    "Beauty": (["Bloom", "Pure Botanics"], ["Face Oil", "Hand Cream", "Lip Balm", "Shampoo Bar"], (6, 60)),
    "Accessories": (
        ["Kestrel", "Northwind"],
        ["Beanie", "Leather Belt", "Sunglasses", "Tote Bag", "Wallet"],
        (12, 120),
    ),
}
FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannah",
    "Jonas",
    "Lena",
    "Lukas",
    "Marie",
    "Noah",
    "Olivia",
    "Paul",
    "Sophie",
    "Tom",
    "Julia",
    "Max",
    "Laura",
    "Elias",
    "Mia",
    "Leon",
    "Sarah",
    "Finn",
    "Nina",
    "Jan",
    "Lea",
    "Tim",
    "Alice",
    "Oscar",
    "Chloe",
    "Liam",
    "Zoe",
    "Hugo",
    "Ella",
    "Matteo",
    "Sofia",
    "Lucas",
    "Ines",
]
LAST_NAMES = [
    "Schmidt",
    "Miller",
    "Martin",
    "Rossi",
    "Novak",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Smith",
    "Jones",
    "Brown",
    "Dubois",
    "Bernard",
    "Garcia",
    "Lopez",
    "Bianchi",
    "Jansen",
    "de Vries",
    "Bakker",
    "Keller",
    "Huber",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Taylor",
    "Wilson",
    "Moreau",
    "Laurent",
    "Costa",
    "Ricci",
    "Peters",
    "Koch",
    "Richter",
    "Klein",
    "Lang",
    "Berger",
]
COUNTRIES = [
    ("DE", "de", "Europe/Berlin", 0.40),
    ("AT", "de-AT", "Europe/Vienna", 0.10),
    ("CH", "de-CH", "Europe/Zurich", 0.08),
    ("GB", "en", "Europe/London", 0.12),
    ("FR", "fr", "Europe/Paris", 0.10),
    ("NL", "nl", "Europe/Amsterdam", 0.08),
    ("IT", "it", "Europe/Rome", 0.06),
    ("ES", "es", "Europe/Madrid", 0.06),
]


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


def _times(seconds_ago: np.ndarray, now: datetime) -> list[str]:
    """Database text for UTC instants `seconds_ago` before now (what Django itself stores)."""
    base = np.datetime64(now.astimezone(UTC).replace(tzinfo=None, microsecond=0), "s")
    stamps = np.datetime_as_string(base - seconds_ago.astype("timedelta64[s]"), unit="s")
    suffix = "+00:00" if connection.vendor == "postgresql" else ""
    return [s.replace("T", " ") + suffix for s in stamps.tolist()]


def _seasonal_days(rng: np.random.Generator, low: np.ndarray, high: np.ndarray, now: datetime) -> np.ndarray:
    """Days ago in [low, high], denser in November/December (inverse of the month-weighted CDF).

    Exactly one uniform draw per value, whatever the date: the rest of the generator's stream (who buys,
    how often) does not depend on the day the shop is seeded on.
    """
    today = np.datetime64(now.date(), "D")
    grid = np.arange(HISTORY_DAYS + 2)
    months = (today - grid.astype("timedelta64[D]")).astype("datetime64[M]").astype(int) % 12
    cdf = np.concatenate([[0.0], np.cumsum(MONTH_WEIGHTS[months][:-1])])
    low_mass, high_mass = np.interp(low, grid, cdf), np.interp(high, grid, cdf)
    return np.interp(low_mass + rng.random(len(low)) * (high_mass - low_mass), cdf, grid)


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
    with (
        transaction.atomic(),
        _indexes_rebuilt_after(tables) if rebuild_indexes else contextlib.nullcontext(),
    ):
        product_ids, product_prices, product_skus = _products(rng, now)
        totals = DemoResult(created=True, products=len(product_ids))
        next_ids = {
            model: (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1
            for model in (Contact, Order, OrderLine)
        }
        tags = {
            name: Tag.objects.get_or_create(name=name)[0].pk for name in ("VIP", "Newsletter", "Wholesale")
        }
        for start in range(0, contacts, CHUNK):
            size = min(CHUNK, contacts - start)
            _chunk(rng, now, start, size, next_ids, tags, product_ids, product_prices, product_skus, totals)
            if progress:
                progress("contacts", start + size, contacts)
        sequences_reset(Contact, Order, OrderLine, Event)
    if rebuild_indexes and not connection.in_atomic_block:
        # Index-only scans (segment rules on orders) need the visibility map that only VACUUM writes;
        # without it every index entry is checked against the table until autovacuum gets there.
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
    return totals


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


def _products(rng: np.random.Generator, now: datetime) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rows = []
    number = 0
    for category, (brands, names, (low, high)) in CATALOGUE.items():
        for name in names:
            for brand in brands:
                number += 1
                price = round(float(np.exp(rng.uniform(np.log(low), np.log(high)))), 0) - 0.10
                sku = f"{SKU_PREFIX}{number:04d}"
                rows.append(
                    Product(
                        sku=sku,
                        name=f"{brand} {name}",
                        category=category,
                        brand=brand,
                        price=f"{max(price, 4.90):.2f}",
                        url=f"https://shop.example.com/p/{sku.lower()}",
                        created_at=now - timedelta(days=HISTORY_DAYS + 30),
                    )
                )
    Product.objects.bulk_create(rows, ignore_conflicts=True)
    stored = list(
        Product.objects.filter(sku__startswith=SKU_PREFIX).order_by("sku").values_list("id", "price", "sku")
    )
    return (
        np.array([s[0] for s in stored]),
        np.array([float(s[1]) for s in stored]),
        [s[2] for s in stored],
    )


def _chunk(rng, now, start, size, next_ids, tags, product_ids, product_prices, product_skus, totals) -> None:
    contact_ids = np.arange(next_ids[Contact], next_ids[Contact] + size)
    next_ids[Contact] += size
    # Who they are as buyers: never bought, active (<90 days), defecting (90-365), lost (>365).
    buyer = rng.random(size) < 0.92
    group = rng.choice(3, size=size, p=[0.22, 0.45, 0.33])
    low = np.choose(group, [0, 90, 366]).astype(float)
    high = np.choose(group, [89, 365, HISTORY_DAYS - 1]).astype(float)
    last_days = _seasonal_days(rng, low, high, now)
    one_time = rng.random(size) < np.where(group == 0, 0.3, 0.5)
    order_count = np.where(one_time, 1, 2 + np.minimum(rng.geometric(0.35, size) - 1, 23))
    order_count = np.where(buyer, order_count, 0)
    # Active buyers have bought across their whole history; defecting and lost ones bought in a burst and
    # then stopped: the drop-out pattern the CLV model (BG/NBD) estimates, so some buyers are "Inactive".
    span = rng.uniform(0.2, 1.0, size) * np.where(group == 0, 1.0, 0.35) * (HISTORY_DAYS - last_days)
    first_days = np.where(order_count > 1, last_days + span, last_days)
    signup_days = np.where(buyer, first_days + rng.uniform(0, 60, size), rng.uniform(0, HISTORY_DAYS, size))

    # Profiles.
    first = rng.integers(0, len(FIRST_NAMES), size)
    last = rng.integers(0, len(LAST_NAMES), size)
    country_index = rng.choice(len(COUNTRIES), size=size, p=[c[3] for c in COUNTRIES])
    unsubscribed = rng.random(size) < 0.03
    bounced = ~unsubscribed & (rng.random(size) < 0.01)
    email_consent = (rng.random(size) < 0.7) & ~unsubscribed
    sms_consent = rng.random(size) < 0.25
    push_consent = rng.random(size) < 0.15
    referrals = rng.poisson(np.where(group == 0, 0.8, 0.25))
    referral_active = (referrals > 0) & (group == 0) | (rng.random(size) < 0.05)
    visited = buyer & (group < 2) & (rng.random(size) < np.where(group == 0, 0.7, 0.25))
    visit_count = np.where(visited, rng.integers(1, 7, size), 0)
    last_visit_days = np.where(visited, rng.uniform(0, 60, size), 0)

    signup_text = _times((signup_days * 86400).astype(np.int64), now)
    visit_text = _times((last_visit_days * 86400).astype(np.int64), now)
    now_text = _times(np.zeros(1, dtype=np.int64), now)[0]
    statuses = np.where(unsubscribed, "unsubscribed", np.where(bounced, "bounced", "active"))
    contact_rows = []
    for i in range(size):
        number = start + i + 1
        country, locale, zone, _ = COUNTRIES[country_index[i]]
        first_name, last_name = FIRST_NAMES[first[i]], LAST_NAMES[last[i]]
        email = f"{first_name}.{last_name.replace(' ', '')}{number}@example.com".lower()
        consent_text = signup_text[i]
        contact_rows.append(
            (
                int(contact_ids[i]),
                f"{DEMO_PREFIX}{number}",
                email,
                f"+4915{number:09d}" if sms_consent[i] else "",
                first_name,
                last_name,
                locale,
                country,
                zone,
                signup_text[i],
                bool(email_consent[i]),
                consent_text if email_consent[i] else None,
                "checkout" if email_consent[i] else "",
                bool(sms_consent[i]),
                consent_text if sms_consent[i] else None,
                "checkout" if sms_consent[i] else "",
                bool(push_consent[i]),
                consent_text if push_consent[i] else None,
                "signup_form" if push_consent[i] else "",
                str(statuses[i]),
                json.dumps(
                    {
                        "referral_successful_count": int(referrals[i]),
                        "referral_share_link": f"https://shop.example.com/r/{number:x}{number % 97:02d}",
                        "referral_activity": "Active" if referral_active[i] else "Dormant",
                    }
                ),
                visit_text[i] if visited[i] else None,
                signup_text[i],
                now_text,
            )
        )
    tuples_insert(model=Contact, fields=CONTACT_COLUMNS, rows=contact_rows)
    totals.contacts += size

    # Orders: per buyer, order_count dates between first and last order (seasonal in between).
    owners = np.repeat(np.arange(size), order_count)
    total_orders = len(owners)
    position = np.arange(total_orders) - np.repeat(np.cumsum(order_count) - order_count, order_count)
    is_last = position == np.repeat(order_count, order_count) - 1
    is_first = position == 0
    middle = _seasonal_days(rng, last_days[owners], first_days[owners], now)
    days = np.where(is_last, last_days[owners], np.where(is_first, first_days[owners], middle))
    seconds = (days * 86400 + rng.integers(0, 86400, total_orders)).astype(np.int64)
    seconds = np.maximum(seconds, 60)
    placed_text = _times(seconds, now)
    order_ids = np.arange(next_ids[Order], next_ids[Order] + total_orders)
    next_ids[Order] += total_orders

    # Lines: 1-3 products with popular ones more likely.
    line_count = rng.choice([1, 2, 3], size=total_orders, p=[0.6, 0.3, 0.1])
    line_orders = np.repeat(np.arange(total_orders), line_count)
    popularity = 1 / np.arange(1, len(product_ids) + 1) ** 0.8
    popularity = rng.permutation(popularity / popularity.sum())
    products = rng.choice(len(product_ids), size=len(line_orders), p=popularity)
    quantity = np.where(rng.random(len(line_orders)) < 0.9, 1, 2)
    line_value = quantity * product_prices[products]
    order_total = np.bincount(line_orders, weights=line_value, minlength=total_orders)
    recent = days < 14
    roll = rng.random(total_orders)
    order_status = np.where(
        roll < 0.02, "cancelled", np.where(roll < 0.05, "refunded", np.where(recent, "paid", "fulfilled"))
    )
    placed_month = (np.datetime64(now.date(), "D") - days.astype("timedelta64[D]")).astype("datetime64[M]")
    month_number = placed_month.astype(int) % 12 + 1
    coupon_roll = rng.random(total_orders)
    coupon = np.where(
        (month_number == 11) & (coupon_roll < 0.3),
        "BLACKFRIDAY",
        np.where(is_first & (coupon_roll < 0.15), "WELCOME10", ""),
    )
    order_rows = [
        (
            int(order_ids[k]),
            f"DEMO-{int(order_ids[k]):08d}",
            int(contact_ids[owners[k]]),
            placed_text[k],
            f"{order_total[k]:.2f}",
            "EUR",
            str(coupon[k]),
            str(order_status[k]),
            placed_text[k],
        )
        for k in range(total_orders)
    ]
    tuples_insert(model=Order, fields=ORDER_COLUMNS, rows=order_rows)
    totals.orders += total_orders

    line_ids = np.arange(next_ids[OrderLine], next_ids[OrderLine] + len(line_orders))
    next_ids[OrderLine] += len(line_orders)
    line_rows = [
        (
            int(line_ids[j]),
            int(order_ids[line_orders[j]]),
            int(product_ids[products[j]]),
            product_skus[products[j]],
            int(quantity[j]),
            f"{product_prices[products[j]]:.2f}",
        )
        for j in range(len(line_orders))
    ]
    tuples_insert(model=OrderLine, fields=LINE_COLUMNS, rows=line_rows)
    totals.order_lines += len(line_rows)

    # Site visits and product views in the last 60 days for recently seen contacts.
    visitors = np.repeat(np.arange(size), visit_count)
    visit_days = last_visit_days[visitors] + rng.uniform(0, 20, len(visitors)) * (
        np.arange(len(visitors)) != np.repeat(np.cumsum(visit_count) - visit_count, visit_count)
    )
    visit_seconds = (visit_days * 86400).astype(np.int64)
    event_text = _times(visit_seconds, now)
    viewed = rng.choice(len(product_ids), size=len(visitors), p=popularity)
    is_view = rng.random(len(visitors)) < 0.5
    event_rows = [
        (
            int(contact_ids[visitors[k]]),
            "product_view" if is_view[k] else "site_visit",
            event_text[k],
            json.dumps({"sku": product_skus[viewed[k]]}) if is_view[k] else "{}",
        )
        for k in range(len(visitors))
    ]
    tuples_insert(model=Event, fields=EVENT_COLUMNS, rows=event_rows)
    totals.events += len(event_rows)

    # Tags: VIP for frequent buyers, Newsletter for email subscribers (a sample).
    through = Contact.tags.through
    tag_rows = [(int(contact_ids[i]), tags["VIP"]) for i in np.flatnonzero(order_count >= 6)]
    tag_rows += [
        (int(contact_ids[i]), tags["Newsletter"])
        for i in np.flatnonzero(email_consent & (rng.random(size) < 0.5))
    ]
    tuples_insert(model=through, fields=("contact", "tag"), rows=tag_rows)

    # Newsletter engagement before Winback: about 40 % of subscribers opened one to four emails in the
    # last 180 days and a quarter of those opens led to a click, so "no open in 90 days" separates people.
    subscribers = np.flatnonzero(email_consent)
    engaged = subscribers[rng.random(len(subscribers)) < 0.4]
    openers = np.repeat(engaged, rng.integers(1, 5, len(engaged)))
    open_text = _times((rng.uniform(0, 180, len(openers)) * 86400).astype(np.int64), now)
    clicks = np.flatnonzero(rng.random(len(openers)) < 0.25)
    opener_ids = contact_ids[openers]
    engagement_rows = [(int(opener_ids[k]), "email_open", open_text[k], "{}") for k in range(len(openers))]
    engagement_rows += [(int(opener_ids[k]), "email_click", open_text[k], "{}") for k in clicks]
    tuples_insert(model=Event, fields=EVENT_COLUMNS, rows=engagement_rows)
    totals.events += len(engagement_rows)


CONTACT_COLUMNS = (
    "id",
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "country",
    "timezone",
    "signed_up_at",
    "email_consent",
    "email_consent_at",
    "email_consent_source",
    "sms_consent",
    "sms_consent_at",
    "sms_consent_source",
    "push_consent",
    "push_consent_at",
    "push_consent_source",
    "status",
    "attributes",
    "last_activity_at",
    "created_at",
    "updated_at",
)
ORDER_COLUMNS = (
    "id",
    "external_id",
    "contact",
    "placed_at",
    "total",
    "currency",
    "coupon_code",
    "status",
    "created_at",
)
LINE_COLUMNS = ("id", "order", "product", "sku", "quantity", "unit_price")
EVENT_COLUMNS = ("contact", "kind", "occurred_at", "properties")
