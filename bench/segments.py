"""Benchmark: the demo seed, segment counts, the segment preview and admin pages on one synthetic shop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/segments.py --contacts 100000

PostgreSQL only (the figures are about PostgreSQL plans). The data go into a throw-away test database.

1. Seed: `seed_demo` (COPY, indexes and constraints rebuilt after the load) beside the same COPY load
   with every index and deferred foreign key in place (what Winback did before; on a sample of
   --seed-baseline-contacts, in a second throw-away database, extrapolated linearly).
2. Segment counts: each rule compiled by segments.rules beside the hand-written SQL a competent engineer
   would write for the same set (GROUP BY ... HAVING over orders, a plain WHERE on contacts, ...), best of
   --repeat runs each, alternating; the counts must agree.
   `--only-counts-existing` runs only this part, on the configured database as it is (iteration at 1M).
3. The segment preview (the htmx endpoint behind the segment page) beside counting inline.
4. Admin pages: p50 and p95 over --requests requests each, beside the 300 ms p95 goal; one journey has
   every consenting contact enrolled.
"""

from __future__ import annotations

import datetime as dt
import sys
import time

from _common import Timer, django_setup, figure, parser_make, result_line, throwaway_database

GOAL_MS = 300


def main() -> int:
    parser = parser_make(__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed-baseline-contacts", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument(
        "--only",
        choices=["pages"],
        help="pages: measure only the admin pages, against the existing --database-url database "
        "(a copy of a seeded shop; the bench journey, scores and user are added once and reused)",
    )
    parser.add_argument(
        "--only-counts-existing",
        action="store_true",
        help="only the segment counts, on the configured database as it is (e.g. a copy of a seeded 1M shop; "
        "read-only): no seed, no throw-away database, no preview or admin pages",
    )
    args = parser.parse_args()
    django_setup(args.database_url)
    from django.db import connection

    if connection.vendor != "postgresql":
        print("bench/segments.py measures PostgreSQL: set DATABASE_URL=postgres://... (see bench/README.md)")
        return 2

    if args.only_counts_existing:
        ok = segments_measure(args)
        return result_line(ok, "Winback's segment counts equal the hand-written SQL's", "MISMATCH")

    from contacts.services.demo import demo_seed

    if args.only == "pages":
        pages_measure(args, *pages_setup())
        return 0
    ok = True
    baseline_n = min(args.seed_baseline_contacts, args.contacts)
    with throwaway_database():
        with Timer(
            f"baseline seed: COPY with indexes and deferred FKs in place, {baseline_n:,} contacts"
        ) as t:
            demo_seed(contacts=baseline_n, rebuild_indexes=False)
        baseline_seed_s = t.seconds * args.contacts / baseline_n
    with throwaway_database():
        with Timer(f"Winback seed_demo: {args.contacts:,} contacts") as t:
            result = demo_seed(contacts=args.contacts)
        print(f"    {result.orders:,} orders, {result.order_lines:,} lines, {result.events:,} events")
        note = f"baseline on {baseline_n:,} contacts, extrapolated" if baseline_n < args.contacts else ""
        figure(f"demo seed, {args.contacts:,} contacts", t.seconds, baseline_seed_s, "s", note)
        ok &= segments_measure(args)
        ok &= preview_and_pages_measure(args)
    return result_line(ok, "Winback's segment counts equal the hand-written SQL's", "MISMATCH")


def _best_ms(run, repeat: int) -> tuple[float, int]:
    best, value = float("inf"), -1
    for _ in range(repeat):
        started = time.perf_counter()
        value = run()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best, value


def segments_measure(args) -> bool:
    from django.db import connection
    from django.utils import timezone

    from segments.rules import rules_counted

    now = timezone.now()
    days = {n: now - dt.timedelta(days=n) for n in (90, 365)}
    purchase = "status NOT IN ('cancelled', 'refunded')"
    by_contact = f"SELECT contact_id FROM contacts_order WHERE {purchase} GROUP BY contact_id"
    cases = [
        (
            "last purchase 90-365 days ago",
            {"field": "last_purchase", "operator": "between", "value": [{"days_ago": 365}, {"days_ago": 90}]},
            f"SELECT count(*) FROM ({by_contact} "
            "HAVING max(placed_at) >= %(d365)s AND max(placed_at) < %(d90)s) s",
        ),
        (
            "3+ purchases in the last 365 days",
            {"field": "purchase_count", "operator": "gte", "value": 3, "period": {"last_days": 365}},
            f"SELECT count(*) FROM (SELECT contact_id FROM contacts_order WHERE {purchase} "
            "AND placed_at >= %(d365)s GROUP BY contact_id HAVING count(*) >= 3) s",
        ),
        (
            "spent more than 200 in the last 90 days",
            {"field": "purchase_amount", "operator": "gt", "value": 200, "period": {"last_days": 90}},
            f"SELECT count(*) FROM (SELECT contact_id FROM contacts_order WHERE {purchase} "
            "AND placed_at >= %(d90)s GROUP BY contact_id HAVING sum(total) > 200) s",
        ),
        (
            "last purchase more than 90 days ago",
            {"field": "last_purchase", "operator": "more_than_days_ago", "value": 90},
            f"SELECT count(*) FROM ({by_contact} HAVING max(placed_at) < %(d90)s) s",
        ),
        (
            "country is DE",
            {"field": "country", "operator": "eq", "value": "DE"},
            "SELECT count(*) FROM contacts_contact WHERE country = 'DE'",
        ),
        (
            "tag VIP (any case)",
            {"field": "tags", "operator": "has_any", "value": ["vip"]},
            "SELECT count(DISTINCT ct.contact_id) FROM contacts_contact_tags ct "
            "JOIN contacts_tag t ON t.id = ct.tag_id WHERE lower(t.name) = 'vip'",
        ),
        (
            "attribute referral_activity = dormant (any case)",
            {"field": "attribute", "key": "referral_activity", "operator": "eq", "value": "dormant"},
            "SELECT count(*) FROM contacts_contact WHERE upper(attributes->>'referral_activity') = 'DORMANT'",
        ),
        (
            "opened an email in the last 90 days",
            {"field": "email_opened", "operator": "within_last_days", "value": 90},
            "SELECT count(DISTINCT contact_id) FROM contacts_event WHERE kind = 'email_open' "
            "AND occurred_at >= %(d90)s",
        ),
    ]
    params = {"d90": days[90], "d365": days[365]}
    ok = True
    print("Segment counts: segments.rules vs hand-written SQL (best of each, ms)")
    for name, rules, sql in cases:
        contacts = rules_counted(rules, now=now)  # what segment sizes and previews count

        def hand(sql=sql):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()[0]

        ours_ms, ours_n = float("inf"), -1
        hand_ms, hand_n = float("inf"), -1
        for _ in range(args.repeat):  # alternate, so both see the same cache and load
            ms, ours_n = _best_ms(contacts.count, 1)
            ours_ms = min(ours_ms, ms)
            ms, hand_n = _best_ms(hand, 1)
            hand_ms = min(hand_ms, ms)
        same = ours_n == hand_n
        ok &= same
        verdict = "" if same else "MISMATCH"
        print(f"  {name:<50} {ours_ms:8.0f} {hand_ms:8.0f}   {ours_n:,} / {hand_n:,} {verdict}")
        figure(
            f"segment count: {name}",
            round(ours_ms, 1),
            round(hand_ms, 1),
            "ms",
            f"{ours_n:,} contacts; goal: ratio >= 0.83 (within 1.2x) and under 500 ms",
        )
    return ok


def _timed_get(client, url: str, n: int, method: str = "get", data=None, headers=None) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = getattr(client, method)(url, data or {}, headers=headers or {})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def _p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


PREVIEW_RULES = {
    "field": "last_purchase",
    "operator": "between",
    "value": [{"days_ago": 365}, {"days_ago": 90}],
}


def preview_and_pages_measure(args) -> bool:
    import json

    from contacts.models import Contact
    from segments.rules import rules_compile

    client, segment, journey = pages_setup()
    preview = "/segments/rules/preview/"
    data = {"rules": json.dumps(PREVIEW_RULES), "segment_id": str(segment.pk)}
    hx = {"HX-Request": "true"}
    preview_times = _timed_get(client, preview, args.requests // 2, "post", data, hx)
    inline_ms, _n = _best_ms(Contact.objects.filter(rules_compile(PREVIEW_RULES)).count, 1)
    figure(
        "segment preview response (p95), rules 'last purchase 90-365 days ago'",
        round(_p(preview_times, 0.95), 1),
        round(inline_ms, 1),
        "ms",
        f"baseline: counting inline (what the preview did); p50 {_p(preview_times, 0.5):.0f} ms",
    )
    pages_measure(args, client, segment, journey)
    return True


def pages_setup():
    """The user, segments, journey (every consenting contact enrolled) and scores the pages need.

    Reused when present, so `--only pages` can run again on the same database copy."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from coupons.models import CouponPool
    from journeys.models import Edge, Journey, Step
    from journeys.services import journey_enter, journey_publish
    from journeys.services.stats import journey_stats_refresh
    from messaging.models import Message
    from reports.models import JourneySnapshot
    from reports.services import journey_snapshots_refresh, rollups_refresh
    from segments.models import ContactScore, Segment
    from segments.services import segment_evaluate

    admin = User.objects.filter(username="bench").first()
    if admin is None:
        admin = User.objects.create_superuser("bench", "bench@example.com", "x")
    client = Client()
    client.force_login(admin)

    segment = Segment.objects.filter(name="Defecting").first()
    if segment is None:
        segment = Segment.objects.create(name="Defecting", rules=PREVIEW_RULES)
        with Timer("segment evaluated once (its size is the preview's 'about N')"):
            segment_evaluate(segment=segment)
    journey = Journey.objects.filter(name="Bench journey").first()
    if journey is None:
        consenting = Segment.objects.create(
            name="Email consent", rules={"field": "email_consent", "operator": "is", "value": True}
        )
        journey = Journey.objects.create(name="Bench journey")
        entry = Step.objects.create(
            journey=journey,
            name="entry",
            kind="entry",
            config={"segment_id": consenting.pk, "every": 1, "period": "days"},
        )
        wait = Step.objects.create(journey=journey, name="wait", kind="wait", config={"days": 30})
        Edge.objects.create(journey=journey, from_step=entry, branch="next", to_step=wait)
        journey_publish(journey=journey, now=timezone.now())
        with Timer("journey: every consenting contact enrolled (one INSERT ... SELECT), rollup refreshed"):
            enrolled = journey_enter(journey=journey, now=timezone.now())
            journey_stats_refresh()
        print(f"    {enrolled:,} enrollments")

    if not ContactScore.objects.exists():
        # A scoring run is bench/scoring.py's business; the scores list only needs rows to sort.
        scores_label = "scores: one row per contact, predicted CLV random (30 % empty), for the scores list"
        with Timer(scores_label), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO segments_contactscore (contact_id, frequency, monetary_total, rfm_segment, "
                "lifecycle_stage, clv_cluster, scored_at, predicted_clv) SELECT id, 0, 0, '', 'never', '', "
                "now(), CASE WHEN random() < 0.3 THEN NULL ELSE random() * 500 END FROM contacts_contact"
            )
    added = not Message.objects.filter(journey_id=journey.pk).exists()
    if added:
        with (
            Timer("outbox: one sent email per enrollment of the bench journey"),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "INSERT INTO messaging_message (channel, idempotency_key, status, reason, journey_id, "
                "enrollment_id, contact_id, context, to_address, subject, provider_message_id, claim_token, "
                "created_at, sent_at, attempts) SELECT 'email', 'bench-' || e.id, 'sent', '', e.journey_id, "
                "e.id, e.contact_id, '{}', 'bench@example.com', 'We miss you', '', '', now(), now(), 1 "
                "FROM journeys_enrollment e WHERE e.journey_id = %s",
                [journey.pk],
            )
    if not CouponPool.objects.filter(name="Bench pool").exists():
        pool = CouponPool.objects.create(name="Bench pool", offer_kind="percent", offer_value=10)
        with Timer("coupons: a pool of 300,000 codes, half assigned"), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO coupons_coupon (pool_id, code, redemption, created_at, contact_id, assigned_at) "
                "SELECT %s, 'BENCH' || g, '', now(), c.id, CASE WHEN c.id IS NULL THEN NULL ELSE now() END "
                "FROM generate_series(1, 300000) g LEFT JOIN contacts_contact c "
                "ON c.id = g AND g %% 2 = 0",
                [pool.pk],
            )
            cursor.execute(
                "UPDATE coupons_couponpool SET codes_total = 300000, codes_assigned = "
                "(SELECT count(*) FROM coupons_coupon WHERE pool_id = %s AND assigned_at IS NOT NULL) "
                "WHERE id = %s",
                [pool.pk, pool.pk],
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    if added or not JourneySnapshot.objects.filter(journey=journey).exists():
        # What the hourly beat task does; the report pages read these rollups.
        with Timer("reports: the hourly rollups (daily counts, journey report snapshots)"):
            rollups_refresh()
            journey_snapshots_refresh()
    return client, segment, journey


def pages_measure(args, client, segment, journey) -> None:
    from contacts.models import Contact, Order
    from coupons.models import CouponPool

    email = Contact.objects.order_by("pk").values_list("email", flat=True).first() or "a"
    order = Order.objects.order_by("pk").first()
    pool = CouponPool.objects.order_by("pk").first()
    pages = [
        ("dashboard", "/admin/"),
        ("contacts list", "/admin/contacts/contact/"),
        ("contacts search by email prefix", f"/admin/contacts/contact/?q={email[:8]}"),
        ("contacts search, a word nobody has", "/admin/contacts/contact/?q=zzqqx"),
        ("contact page", f"/admin/contacts/contact/{order.contact_id}/change/" if order else "/admin/"),
        ("orders list", "/admin/contacts/order/"),
        ("order page", f"/admin/contacts/order/{order.pk}/change/" if order else "/admin/"),
        ("contact scores list (by predicted CLV)", "/admin/segments/contactscore/"),
        ("segments list", "/admin/segments/segment/"),
        ("segment page", f"/admin/segments/segment/{segment.pk}/change/"),
        ("journeys list", "/admin/journeys/journey/"),
        ("journey page", f"/admin/journeys/journey/{journey.pk}/change/"),
        ("journey editor", f"/journeys/{journey.pk}/editor/"),
        ("journey report", f"/reports/journeys/{journey.pk}/"),
        ("enrollments list", "/admin/journeys/enrollment/"),
        ("enrollments of the journey", f"/admin/journeys/enrollment/?journey__id__exact={journey.pk}"),
        ("outbox", "/admin/messaging/message/"),
        ("coupon pools", "/admin/coupons/couponpool/"),
        ("pool page", f"/admin/coupons/couponpool/{pool.pk}/change/" if pool else "/admin/"),
        ("coupons list", "/admin/coupons/coupon/"),
        ("movement report", "/reports/movement/"),
        ("coupons report", "/reports/coupons/"),
    ]
    print(f"Admin pages ({args.requests} requests each, after one warm-up)")
    for name, url in pages:
        client.get(url)
        times = _timed_get(client, url, args.requests)
        p50, p95 = _p(times, 0.5), _p(times, 0.95)
        print(f"  {name:<45} p50 {p50:7.0f} ms   p95 {p95:7.0f} ms", flush=True)
        figure(f"admin: {name} (p95)", round(p95, 1), GOAL_MS, "ms", f"p50 {p50:.0f} ms; baseline = the goal")


if __name__ == "__main__":
    sys.exit(main())
