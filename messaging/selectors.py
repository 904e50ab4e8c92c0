"""Reads for rendering, reports and the journey engine. Batched: a few queries per list of contacts."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum
from django.utils.timezone import now

from contacts.models import Contact, Order, OrderLine, Product
from messaging import tokens
from messaging.email_layout import shop_context
from messaging.models import Message, MessageTemplate
from messaging.sandbox import CONTACT_FIELDS, PRODUCT_FIELDS

BEST_SELLER_DAYS = 90


def messages_sent_count(*, contact_ids: Iterable[int], since: dt.datetime) -> dict[int, int]:
    """Messages sent to each contact since `since` (all channels), for the engine's frequency cap."""
    ids = list(contact_ids)
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    rows = (
        Message.objects.filter(contact_id__in=ids, sent_at__gte=since)
        .values("contact_id")
        .annotate(n=Count("id"))
        .values_list("contact_id", "n")
    )
    counts.update(dict(rows))
    return counts


def messages_stats_by_step(*, journey_id: int) -> dict[int | None, dict[str, int]]:
    """Per step of a journey: messages by status plus opened, clicked and unsubscribed counts
    (one GROUP BY query on the (journey_id, step_id, status) index)."""
    rows = (
        Message.objects.filter(journey_id=journey_id)
        .values("step_id", "status")
        .annotate(
            n=Count("id"),
            opened=Count("opened_at"),
            clicked=Count("clicked_at"),
            unsubscribed=Count("unsubscribed_at"),
        )
        .order_by()
    )
    stats: dict[int | None, dict[str, int]] = {}
    for row in rows:
        step = stats.setdefault(
            row["step_id"],
            {**dict.fromkeys(Message.Status.values, 0), "opened": 0, "clicked": 0, "unsubscribed": 0},
        )
        step[row["status"]] += row["n"]
        for name in ("opened", "clicked", "unsubscribed"):
            step[name] += row[name]
    return stats


def enrollment_message_statuses(*, enrollment_id: int) -> dict[int, Message]:
    """The latest message of each step of one enrollment (step id -> Message), for its history."""
    found: dict[int, Message] = {}
    for message in (
        Message.objects.filter(enrollment_id=enrollment_id)
        .order_by("id")
        .only("id", "step_id", "status", "reason", "sent_at")
    ):
        if message.step_id is not None:
            found[message.step_id] = message
    return found


def contact_last_messages(*, contact_id: int, limit: int = 10) -> list[Message]:
    return list(
        Message.objects.filter(contact_id=contact_id)
        .select_related("template")
        .order_by("-created_at", "-id")[:limit]
    )


def contact_story_context(contact: Contact) -> dict:
    """The contact page's "Messages" section: the last messages (one query)."""
    return {
        "story_messages": contact_last_messages(contact_id=contact.pk, limit=10),
        "story_contact_id": contact.pk,
    }


def messages_stale_queued(*, older_than: dt.timedelta, limit: int = 5000) -> list[int]:
    """Messages still queued long after they were created or due for a retry (their task was lost)."""
    cutoff = now() - older_than
    return list(
        Message.objects.filter(status=Message.Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True, created_at__lt=cutoff) | Q(next_attempt_at__lt=cutoff))
        .order_by("status", "created_at")
        .values_list("id", flat=True)[:limit]
    )


# --- Context encoding: Outgoing.context is stored as JSON with dates tagged -----------------


def context_encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, dict):
        return {str(k): context_encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [context_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{type(value).__name__} is not allowed in a message context (plain values only).")


def context_decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "__datetime__":
                return dt.datetime.fromisoformat(inner)
            if key == "__date__":
                return dt.date.fromisoformat(inner)
            if key == "__decimal__":
                return Decimal(inner)
        return {k: context_decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [context_decode(v) for v in value]
    return value


# --- Product recommendations ---------------------------------------------------------------


def _product_dict(product: dict) -> dict:
    return {name: product.get(name) for name in PRODUCT_FIELDS}


def recommendations_for_contacts(*, contact_ids: Iterable[int], limit: int = 4) -> dict[int, dict[str, list]]:
    """Per contact: `bought_again` (their most bought products), `new_arrivals` (new products in the
    categories or brands of their last order), `best_sellers` (shop-wide, last 90 days) and
    `recommendations` (those three merged in that order, without duplicates, `limit` long).
    Five queries for the whole list of contacts.
    """
    ids = list(contact_ids)
    result: dict[int, dict[str, list]] = {}
    if not ids:
        return result
    purchase = ~Q(order__status__in=Order.NOT_PURCHASES)
    product_values = [f"product__{name}" for name in PRODUCT_FIELDS]

    # 1. Most bought per contact.
    bought: dict[int, list[dict]] = defaultdict(list)
    bought_ids: dict[int, set[int]] = defaultdict(set)
    rows = (
        OrderLine.objects.filter(purchase, order__contact_id__in=ids, product__isnull=False)
        .values("order__contact_id", *product_values)
        .annotate(quantity=Sum("quantity"), last=Max("order__placed_at"))
        .order_by("order__contact_id", "-quantity", "-last")
    )
    for row in rows:
        contact_id = row["order__contact_id"]
        bought_ids[contact_id].add(row["product__id"])
        if len(bought[contact_id]) < limit:
            bought[contact_id].append(_product_dict({k.removeprefix("product__"): v for k, v in row.items()}))

    # 2. Categories and brands of each contact's last order.
    last_order = Subquery(
        Order.objects.filter(contact_id=OuterRef("contact_id"))
        .exclude(status__in=Order.NOT_PURCHASES)
        .order_by("-placed_at", "-id")
        .values("id")[:1]
    )
    interest_rows = (
        OrderLine.objects.filter(order__contact_id__in=ids, product__isnull=False)
        .filter(order_id__in=Order.objects.filter(contact_id__in=ids, id=last_order).values("id"))
        .values_list("order__contact_id", "product__category", "product__brand")
        .distinct()
    )
    categories: dict[int, set[str]] = defaultdict(set)
    brands: dict[int, set[str]] = defaultdict(set)
    for contact_id, category, brand in interest_rows:
        if category:
            categories[contact_id].add(category)
        if brand:
            brands[contact_id].add(brand)
    all_categories = set().union(*categories.values()) if categories else set()
    all_brands = set().union(*brands.values()) if brands else set()
    new_products: list[dict] = []
    if all_categories or all_brands:
        since = now() - dt.timedelta(days=settings.MESSAGING_NEW_PRODUCT_DAYS)
        new_products = list(
            Product.objects.filter(created_at__gte=since)
            .filter(Q(category__in=all_categories) | Q(brand__in=all_brands))
            .order_by("-created_at", "-id")
            .values(*PRODUCT_FIELDS)[:500]
        )

    # 3. Best sellers (fallback).
    since = now() - dt.timedelta(days=BEST_SELLER_DAYS)
    best = [
        _product_dict({k.removeprefix("product__"): v for k, v in row.items()})
        for row in OrderLine.objects.filter(purchase, order__placed_at__gte=since, product__isnull=False)
        .values(*product_values)
        .annotate(quantity=Sum("quantity"))
        .order_by("-quantity", "product__id")[: limit * 3]
    ]
    if not best:  # a shop without recent orders: newest products
        best = [
            _product_dict(p)
            for p in Product.objects.order_by("-created_at", "-id").values(*PRODUCT_FIELDS)[: limit * 3]
        ]

    for contact_id in ids:
        cats, brs = categories.get(contact_id, set()), brands.get(contact_id, set())
        arrivals = [
            _product_dict(p)
            for p in new_products
            if (p["category"] in cats or p["brand"] in brs) and p["id"] not in bought_ids.get(contact_id, ())
        ][:limit]
        merged: list[dict] = []
        seen: set[int] = set()
        for product in [*bought.get(contact_id, []), *arrivals, *best]:
            if product["id"] not in seen and len(merged) < limit:
                seen.add(product["id"])
                merged.append(product)
        result[contact_id] = {
            "recommendations": merged,
            "bought_again": bought.get(contact_id, []),
            "new_arrivals": arrivals,
            "best_sellers": best[:limit],
        }
    return result


# --- Render contexts -----------------------------------------------------------------------


def contact_context(contact: Contact) -> dict:
    values: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        if name == "full_name":
            values[name] = contact.full_name
        elif name == "attributes":
            values[name] = context_decode(contact.attributes or {})
        else:
            values[name] = getattr(contact, name) or ""
    return values


RECOMMENDATION_NAMES = ("recommendations", "bought_again", "new_arrivals", "best_sellers")
TEMPLATE_SOURCES = ("subject", "html_body", "text_body", "sms_text", "push_title", "push_body", "push_url")


def _names_any(template: MessageTemplate | None, names: tuple[str, ...]) -> bool:
    """Whether the template can read any of `names` (the sandbox has no include/extends, so a
    template that never names a value cannot use it). Unknown template (previews): yes."""
    if template is None:
        return True
    source = " ".join(getattr(template, name, "") or "" for name in TEMPLATE_SOURCES)
    return any(name in source for name in names)


def uses_recommendations(template: MessageTemplate | None) -> bool:
    return _names_any(template, RECOMMENDATION_NAMES)


def uses_preferences_link(template: MessageTemplate | None) -> bool:
    """The preferences link is signed only for templates that show it (one HMAC less per email)."""
    return _names_any(template, ("preferences_url",))


def render_contexts(*, messages: list[Message]) -> dict[int, dict]:
    """Template context per message: plain values only (no model instances, settings or request).
    Messages must have `contact` loaded (select_related). The product lists are read only for
    messages whose template names them (five queries for all of those, none otherwise), and the
    preferences link is signed only for templates that name `preferences_url`."""
    wanted: dict[int | None, bool] = {}
    preferences: dict[int | None, bool] = {}
    for m in messages:
        if m.template_id not in wanted:
            template = m.template if m.template_id else None
            wanted[m.template_id] = uses_recommendations(template)
            preferences[m.template_id] = uses_preferences_link(template)
    contact_ids = list({m.contact_id for m in messages if wanted[m.template_id]})
    recommendations = recommendations_for_contacts(contact_ids=contact_ids)
    contexts: dict[int, dict] = {}
    today = now().date()
    shop = shop_context()
    for message in messages:
        context: dict[str, Any] = {
            "contact": contact_context(message.contact),
            "coupon": {},
            "site_url": settings.SITE_URL,
            "shop": shop,
            "today": today,
            "message": {"id": message.pk, "channel": message.channel},
            "unsubscribe_url": tokens.unsubscribe_url(message.contact_id, message.pk),
            **recommendations.get(message.contact_id, {}),
        }
        if preferences[message.template_id]:
            context["preferences_url"] = tokens.preferences_url(message.contact_id)
        context.update(context_decode(message.context or {}))
        contexts[message.pk] = context
    return contexts


def sample_context(*, contact: Contact | None = None) -> dict:
    """A context for previews and validation: a real contact if given, else made-up values."""
    if contact is None:
        contact = Contact(
            first_name="Alex",
            last_name="Example",
            email="alex@example.com",
            attributes={"referral_successful_count": 2, "referral_share_link": "https://example.com/r/alex"},
        )
        contact.pk = 0
    message = Message(contact=contact, channel="email", context={})
    message.pk = 0
    context = render_contexts(messages=[message])[0]
    context["coupon"] = {"code": "WELCOME-BACK-1234", "expires_at": now().date() + dt.timedelta(days=14)}
    return context
