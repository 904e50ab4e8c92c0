"""The demo shop's rows: products and chunks of contacts with their orders, lines, events and tags,
generated with numpy from the shop's random generator (called by demo.demo_seed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection

from contacts.models import Contact, Event, Order, OrderLine, Product
from contacts.services.bulk import tuples_insert
from contacts.services.demo_data import CATALOGUE, COUNTRIES, FIRST_NAMES, LAST_NAMES, MONTH_WEIGHTS

DEMO_PREFIX = "demo-"
SKU_PREFIX = "DEMO-"
HISTORY_DAYS = 730


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


def demo_products_write(rng: np.random.Generator, now: datetime) -> tuple[np.ndarray, np.ndarray, list[str]]:
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


def demo_chunk_write(
    rng, now, start, size, next_ids, tags, product_ids, product_prices, product_skus, totals
) -> None:
    """Write `size` contacts from number `start` on, with their orders, lines, events and tags."""
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
