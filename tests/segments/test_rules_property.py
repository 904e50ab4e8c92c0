"""The rule compiler against a plain Python evaluation of the same rules on a small random shop.

Random rule trees (every field and operator the compiler knows about contacts, scores, history,
purchases and engagement, nested AND/OR/NOT) must select exactly the contacts the reference picks.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from contacts.models import Contact, Event, Order, OrderLine, Product, Tag
from segments.models import ContactScore, ScoreChange, ScoringRun
from segments.rules import FIELDS, rules_compile

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TAGS = ["vip", "wholesale", "newsletter"]
SEGMENTS = ["Champions", "Lost", "At Risk", "Hibernating"]
STAGES = ["never", "new", "active", "defecting", "lost"]
CLUSTERS = ["Inactive", "Low", "Medium", "High"]
COUNTRIES = ["DE", "AT", "FR", ""]
SKUS = ["A1", "B2", "C3"]
CATEGORIES = {"A1": "shoes", "B2": "shirts", "C3": "shoes"}
BRANDS = {"A1": "Acme", "B2": "Bolt", "C3": "Bolt"}
DATE_VALUES = ["2026-01-15", "2025-06-01", {"days_ago": 30}, {"days_ago": 200}]


def _days(n: int) -> dt.datetime:
    return NOW - dt.timedelta(days=n, hours=3)


def build_shop(seed: int) -> dict:
    """Random contacts with orders, lines, events, tags, attributes, scores and score history."""
    rng = random.Random(seed)
    tags = {name: Tag.objects.create(name=name) for name in TAGS}
    products = {
        sku: Product.objects.create(sku=sku, name=sku, category=CATEGORIES[sku], brand=BRANDS[sku])
        for sku in SKUS
    }
    run = ScoringRun.objects.create(status="done")
    world: dict = {"contacts": []}
    for i in range(36):
        attributes = {}
        if rng.random() < 0.6:
            attributes["referral_successful_count"] = rng.randint(0, 4)
        if rng.random() < 0.6:
            attributes["referral_activity"] = rng.choice(["Dormant", "Active", "Dormant Plus"])
        contact = Contact.objects.create(
            email=None if rng.random() < 0.15 else f"person{i}@{rng.choice(['shop.de', 'mail.com'])}",
            first_name=rng.choice(["Ann", "Bob", "anna", ""]),
            country=rng.choice(COUNTRIES),
            status=rng.choice(["active", "active", "unsubscribed", "bounced"]),
            email_consent=rng.random() < 0.5,
            sms_consent=rng.random() < 0.3,
            signed_up_at=None if rng.random() < 0.2 else _days(rng.randint(0, 800)),
            last_activity_at=None if rng.random() < 0.3 else _days(rng.randint(0, 400)),
            attributes=attributes,
        )
        contact.tags.set([tags[t] for t in TAGS if rng.random() < 0.35])
        record = {
            "contact": contact,
            "tags": {t.name for t in contact.tags.all()},
            "orders": [],
            "events": [],
            "score": None,
            "changes": [],
        }
        for k in range(rng.choice([0, 0, 1, 2, 3, 5])):
            status = rng.choice(["paid", "paid", "fulfilled", "refunded", "cancelled"])
            order = Order.objects.create(
                external_id=f"o{i}-{k}",
                contact=contact,
                placed_at=_days(rng.randint(0, 700)),
                total=Decimal(rng.choice(["9.99", "25.00", "120.50", "0.00"])),
                status=status,
            )
            skus = rng.sample(SKUS, rng.randint(0, 2))
            for sku in skus:
                OrderLine.objects.create(order=order, product=products[sku], sku=sku, unit_price=Decimal("5"))
            record["orders"].append({"order": order, "skus": skus})
        for _ in range(rng.randint(0, 4)):
            event = Event.objects.create(
                contact=contact,
                kind=rng.choice(["email_open", "email_click", "site_visit", "cart_add"]),
                occurred_at=_days(rng.randint(0, 120)),
                message_id=rng.choice([None, 1, 2]),
            )
            record["events"].append(event)
        if rng.random() < 0.8:
            record["score"] = ContactScore.objects.create(
                contact=contact,
                run=run,
                recency_days=rng.randint(0, 600),
                frequency=rng.randint(0, 6),
                monetary_total=Decimal(rng.randint(0, 500)),
                r_score=rng.choice([None, 1, 2, 3, 4, 5]),
                f_score=rng.randint(1, 5),
                m_score=rng.randint(1, 5),
                rfm_segment=rng.choice(SEGMENTS + [""]),
                lifecycle_stage=rng.choice(STAGES),
                p_alive=rng.choice([None, 0.05, 0.4, 0.9]),
                expected_purchases=rng.choice([None, 0.01, 0.7, 2.5]),
                predicted_clv=rng.choice([None, 3.0, 50.0, 400.0]),
                clv_cluster=rng.choice(CLUSTERS + [""]),
            )
        for field, values in (("cluster", CLUSTERS), ("stage", STAGES), ("segment", SEGMENTS)):
            previous = ""
            for _ in range(rng.randint(0, 3)):
                new = rng.choice(values)
                change = ScoreChange.objects.create(
                    contact=contact,
                    run=run,
                    changed_at=_days(rng.randint(0, 400)),
                    field=field,
                    old=previous,
                    new=new,
                )
                record["changes"].append(change)
                previous = new
        world["contacts"].append(record)
    return world


# --- reference evaluation ----------------------------------------------------------------------------


def _moment(value, *, end_of_day=False) -> dt.datetime:
    if isinstance(value, dict):
        return NOW - dt.timedelta(days=value["days_ago"])
    day = dt.date.fromisoformat(value) + dt.timedelta(days=1 if end_of_day else 0)
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _period_ok(when: dt.datetime, period) -> bool:
    if period is None:
        return True
    if "last_days" in period:
        return when >= NOW - dt.timedelta(days=period["last_days"])
    start, end = period["between"]
    return _moment(start) <= when < _moment(end, end_of_day=True)


def _compare(x, op, v) -> bool:
    if x is None:
        return op == "ne"
    return {
        "eq": x == v,
        "ne": x != v,
        "gt": x > v,
        "gte": x >= v,
        "lt": x < v,
        "lte": x <= v,
    }[op]


def _date_op(when, op, value) -> bool:
    if op == "is_empty":
        return when is None
    if op == "is_not_empty":
        return when is not None
    if when is None:
        return False
    if op == "since":
        return when >= _moment(value)
    if op == "before":
        return when < _moment(value)
    if op == "between":
        return _moment(value[0]) <= when < _moment(value[1], end_of_day=True)
    if op == "within_last_days":
        return when >= NOW - dt.timedelta(days=value)
    return when < NOW - dt.timedelta(days=value)  # more_than_days_ago


def _text_op(text, op, value) -> bool:
    if op == "is_empty":
        return not text
    if op == "is_not_empty":
        return bool(text)
    if op in ("in", "not_in"):
        hit = text is not None and text in value
        return hit if op == "in" else not hit
    if op == "ne":
        return text != value
    if text is None:
        return False
    return {
        "eq": text == value,
        "contains": value.lower() in text.lower(),
        "startswith": text.lower().startswith(value.lower()),
    }[op]


def evaluate(node, record) -> bool:
    if not node:
        return True
    if "op" in node:
        results = [evaluate(rule, record) for rule in node["rules"]]
        return {"and": all(results), "or": any(results), "not": not results[0] if results else True}[
            node["op"]
        ]
    field, op, value = node["field"], node["operator"], node.get("value")
    c: Contact = record["contact"]
    score: ContactScore | None = record["score"]
    purchases = [o for o in record["orders"] if o["order"].status not in ("refunded", "cancelled")]
    if field in ("email", "first_name", "country"):
        return _text_op(getattr(c, field), op, value)
    if field == "status":
        hit = c.status in (value if isinstance(value, list) else [value])
        return hit if op in ("in", "eq") else not hit
    if field in ("email_consent", "sms_consent"):
        return getattr(c, field) == value
    if field == "reachable":
        hit = c.status == "active" and getattr(c, f"{value}_consent")
        return hit if op == "is" else not hit
    if field in ("signed_up_at", "last_activity_at"):
        return _date_op(getattr(c, field), op, value)
    if field == "tags":  # tag names ignore case
        names = {name.lower() for name in value}
        return {
            "has_any": bool(record["tags"] & names),
            "has_all": names <= record["tags"],
            "has_none": not (record["tags"] & names),
        }[op]
    if field == "attribute":
        key = node["key"]
        if op == "exists":
            return key in c.attributes
        if op == "not_exists":
            return key not in c.attributes
        if key not in c.attributes:
            return op == "ne"
        stored = c.attributes[key]
        if op == "contains":
            return value.lower() in str(stored).lower()
        if isinstance(value, str) and isinstance(stored, str):  # attribute text ignores case
            return _compare(stored.lower(), op, value.lower())
        return _compare(stored, op, value)
    if field in ("rfm_segment", "lifecycle_stage", "clv_cluster"):
        values = value if isinstance(value, list) else [value]
        if score is None:
            hit = field == "lifecycle_stage" and "never" in values
        else:
            hit = getattr(score, field) in values
        return hit if op in ("in", "eq") else not hit
    if field in ("r_score", "f_score", "predicted_clv", "p_alive", "expected_purchases", "recency_days"):
        stored = getattr(score, field) if score else None
        if op == "is_empty":
            return stored is None
        if op == "is_not_empty":
            return stored is not None
        if op == "between":
            return stored is not None and value[0] <= stored <= value[1]
        return _compare(stored, op, value)
    if field == "score_transition":
        hit = any(
            ch.field == node["attribute"]
            and (node.get("from") is None or ch.old == node["from"])
            and (node.get("to") is None or ch.new == node["to"])
            and _period_ok(ch.changed_at, node.get("period"))
            for ch in record["changes"]
        )
        return hit if op == "changed" else not hit
    if field == "score_on_date":
        moment = _moment(node["date"], end_of_day=isinstance(node["date"], str))
        before = [ch for ch in record["changes"] if ch.field == node["attribute"] and ch.changed_at < moment]
        latest = max(before, key=lambda ch: ch.changed_at).new if before else None
        return (latest == value) if op == "eq" else latest != value
    if field in ("purchase_count", "purchase_amount"):
        selected = [o["order"] for o in purchases if _period_ok(o["order"].placed_at, node.get("period"))]
        measure = len(selected) if field == "purchase_count" else sum((o.total for o in selected), Decimal(0))
        return _compare(measure, op, value if field == "purchase_count" else Decimal(str(value)))
    if field == "last_purchase":
        last = max((o["order"].placed_at for o in purchases), default=None)
        return _date_op(last, op, value)
    if field.startswith("bought_"):
        wanted = set(value)
        hit = False
        for o in purchases:
            if not _period_ok(o["order"].placed_at, node.get("period")):
                continue
            for sku in o["skus"]:
                attribute = {
                    "bought_product": sku,
                    "bought_category": CATEGORIES[sku],
                    "bought_brand": BRANDS[sku],
                }[field]
                hit = hit or attribute in wanted
        return hit if op == "any" else not hit
    if field in ("email_opened", "email_clicked", "site_visited", "event"):
        kind = {
            "email_opened": "email_open",
            "email_clicked": "email_click",
            "site_visited": "site_visit",
        }.get(field, node.get("kind"))
        hit = any(
            e.kind == kind
            and e.occurred_at >= NOW - dt.timedelta(days=value)
            and (node.get("message_id") is None or e.message_id == node["message_id"])
            for e in record["events"]
        )
        return hit if op == "within_last_days" else not hit
    raise AssertionError(f"reference does not know {field}")


# --- random rules ----------------------------------------------------------------------------------


def random_condition(rng: random.Random) -> dict:
    field = rng.choice(
        [
            "email",
            "first_name",
            "country",
            "status",
            "email_consent",
            "sms_consent",
            "reachable",
            "signed_up_at",
            "last_activity_at",
            "tags",
            "attribute",
            "attribute",
            "rfm_segment",
            "lifecycle_stage",
            "clv_cluster",
            "r_score",
            "f_score",
            "predicted_clv",
            "p_alive",
            "expected_purchases",
            "recency_days",
            "score_transition",
            "score_on_date",
            "purchase_count",
            "purchase_amount",
            "last_purchase",
            "bought_product",
            "bought_category",
            "bought_brand",
            "email_opened",
            "email_clicked",
            "site_visited",
            "event",
        ]
    )
    op = rng.choice(FIELDS[field].operators)
    cond = {"field": field, "operator": op}
    period = rng.choice(
        [
            None,
            {"last_days": 90},
            {"last_days": 365},
            {"between": ["2025-01-01", "2026-03-31"]},
            {"between": [{"days_ago": 300}, {"days_ago": 10}]},
        ]
    )
    if field in ("email", "first_name", "country"):
        pool = {
            "email": ["shop.de", "person1", "PERSON2@shop.de", "x"],
            "first_name": ["Ann", "an", "Bob"],
            "country": COUNTRIES,
        }[field]
        if op in ("in", "not_in"):
            cond["value"] = rng.sample(pool, 2)
        elif op not in ("is_empty", "is_not_empty"):
            cond["value"] = rng.choice(pool)
    elif field == "status":
        statuses = ["active", "unsubscribed", "bounced"]
        cond["value"] = rng.sample(statuses, 2) if op in ("in", "not_in") else rng.choice(statuses)
    elif field in ("email_consent", "sms_consent"):
        cond["value"] = rng.random() < 0.5
    elif field == "reachable":
        cond["value"] = rng.choice(["email", "sms"])
    elif field in ("signed_up_at", "last_activity_at", "last_purchase"):
        if op in ("since", "before"):
            cond["value"] = rng.choice(DATE_VALUES)
        elif op == "between":
            cond["value"] = rng.choice([["2025-06-01", "2026-02-01"], [{"days_ago": 400}, {"days_ago": 30}]])
        elif op in ("within_last_days", "more_than_days_ago"):
            cond["value"] = rng.choice([0, 30, 90, 365])
    elif field == "tags":
        cond["value"] = [rng.choice([t, t.upper()]) for t in rng.sample(TAGS, rng.randint(1, 2))]
    elif field == "attribute":
        if rng.random() < 0.5:
            cond["key"] = "referral_successful_count"
            cond["operator"] = op = rng.choice(["eq", "ne", "gt", "gte", "lt", "lte", "exists", "not_exists"])
            cond["value"] = rng.randint(0, 4)
        else:
            cond["key"] = "referral_activity"
            cond["operator"] = op = rng.choice(["eq", "ne", "contains", "exists", "not_exists"])
            cond["value"] = rng.choice(["Dormant", "Active", "dormant"])
    elif field in ("rfm_segment", "lifecycle_stage", "clv_cluster"):
        pool = {"rfm_segment": SEGMENTS, "lifecycle_stage": STAGES, "clv_cluster": CLUSTERS}[field]
        cond["value"] = rng.sample(pool, 2) if op in ("in", "not_in") else rng.choice(pool)
    elif field in ("r_score", "f_score", "predicted_clv", "p_alive", "expected_purchases", "recency_days"):
        pool = {
            "r_score": [1, 3, 5],
            "f_score": [2, 4],
            "predicted_clv": [3.0, 50, 100.5],
            "p_alive": [0.05, 0.4, 0.5],
            "expected_purchases": [0.7, 1],
            "recency_days": [30, 365],
        }[field]
        if op == "between":
            cond["value"] = sorted(rng.sample(pool, 2))
        elif op not in ("is_empty", "is_not_empty"):
            cond["value"] = rng.choice(pool)
    elif field == "score_transition":
        cond["attribute"] = attribute = rng.choice(["cluster", "stage", "segment"])
        pool = {"cluster": CLUSTERS, "stage": STAGES, "segment": SEGMENTS}[attribute]
        if rng.random() < 0.5:
            cond["from"] = rng.choice(["", *pool])
        if rng.random() < 0.7:
            cond["to"] = rng.choice(pool)
        if period:
            cond["period"] = period
    elif field == "score_on_date":
        cond["attribute"] = attribute = rng.choice(["cluster", "stage", "segment"])
        cond["value"] = rng.choice({"cluster": CLUSTERS, "stage": STAGES, "segment": SEGMENTS}[attribute])
        cond["date"] = rng.choice(DATE_VALUES)
    elif field in ("purchase_count", "purchase_amount"):
        cond["value"] = (
            rng.choice([0, 1, 2, 3]) if field == "purchase_count" else rng.choice([0, 9.99, 30, 130.5])
        )
        if period:
            cond["period"] = period
    elif field.startswith("bought_"):
        pool = {
            "bought_product": SKUS,
            "bought_category": ["shoes", "shirts"],
            "bought_brand": ["Acme", "Bolt"],
        }[field]
        cond["value"] = rng.sample(pool, 1)
        if period:
            cond["period"] = period
    elif field in ("email_opened", "email_clicked", "site_visited", "event"):
        cond["value"] = rng.choice([7, 30, 90])
        if field == "event":
            cond["kind"] = rng.choice(["cart_add", "email_open"])
        if field != "site_visited" and rng.random() < 0.4:
            cond["message_id"] = rng.choice([1, 2])
    return cond


def random_tree(rng: random.Random, depth: int = 0) -> dict:
    if depth >= 3 or rng.random() < 0.45:
        return random_condition(rng)
    op = rng.choice(["and", "or", "not"])
    count = 1 if op == "not" else rng.randint(1, 3)
    return {"op": op, "rules": [random_tree(rng, depth + 1) for _ in range(count)]}


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2])
def test_compiled_rules_match_python_evaluation(seed):
    world = build_shop(seed)
    rng = random.Random(seed * 1000)
    informative = 0
    for _ in range(180):
        tree = random_tree(rng)
        expected = {r["contact"].pk for r in world["contacts"] if evaluate(tree, r)}
        got = set(Contact.objects.filter(rules_compile(tree, now=NOW)).values_list("pk", flat=True))
        assert got == expected, tree
        informative += 0 < len(expected) < len(world["contacts"])
        # Narrowed to a few contacts (contact page, segment_contains), the answer is the same for them.
        some = rng.sample([r["contact"].pk for r in world["contacts"]], 5)
        narrowed = Contact.objects.filter(rules_compile(tree, now=NOW, contact_ids=some), pk__in=some)
        assert set(narrowed.values_list("pk", flat=True)) == expected & set(some), tree
    assert informative > 60  # most trees split the shop, so agreement means something
    # Each (field, operator) pair is also checked on its own, so none hides behind a lucky combination.
    for field in [
        "email",
        "country",
        "status",
        "reachable",
        "signed_up_at",
        "tags",
        "attribute",
        "rfm_segment",
        "lifecycle_stage",
        "r_score",
        "p_alive",
        "score_transition",
        "score_on_date",
        "purchase_count",
        "purchase_amount",
        "last_purchase",
        "bought_product",
        "bought_category",
        "bought_brand",
        "email_opened",
        "site_visited",
        "event",
    ]:
        for op in FIELDS[field].operators:
            for _ in range(3):
                cond = random_condition(rng)
                while cond["field"] != field or (field != "attribute" and cond["operator"] != op):
                    cond = random_condition(rng)
                expected = {r["contact"].pk for r in world["contacts"] if evaluate(cond, r)}
                got = set(Contact.objects.filter(rules_compile(cond, now=NOW)).values_list("pk", flat=True))
                assert got == expected, cond
