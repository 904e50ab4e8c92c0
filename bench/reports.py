"""Benchmark: report pages (dashboard, journey report, movement, coupon pools) at scale, each beside the
same aggregates hand-written in SQL; checks that page and SQL agree on the journey's totals.

    .venv/bin/python bench/reports.py --contacts 50000 --enrollments 15000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/reports.py \
        --contacts 1000000 --enrollments 300000

Data: contacts with scores (RFM segment, stage, cluster), one journey (holdout 10 %, A/B split, two
email steps) with --enrollments enrollments, their step history, one message each, 10 % conversions with
orders, score changes for 5 % of contacts, and the hourly rollup run once. Pages are timed through
Django's test client as a logged-in admin (p50/p95 over --repeat requests, after one warm-up); the
journey report both as stored by the hourly task and counted live (as filtered views and
`manage.py journey_report` do). The SQL side runs the queries a developer would write by hand for
the same numbers. Throw-away test database.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, django_setup, parser_make, result_line, throwaway_database  # noqa: E402

BATCH = 10_000
SEGMENTS = ["Champions", "Loyal", "Potential Loyalist", "At Risk", "Can't Lose Them", "Hibernating", "Lost"]
STAGES = ["new", "active", "defecting", "lost"]
CLUSTERS = ["Inactive", "Low", "Medium", "High"]

HAND_SQL = {
    "journey groups": """
        SELECT e.holdout, e.variant, COUNT(e.id), COUNT(c.id), COALESCE(SUM(c.revenue), 0)
        FROM journeys_enrollment e LEFT JOIN journeys_conversion c ON c.enrollment_id = e.id
        WHERE e.journey_id = %(journey)s GROUP BY e.holdout, e.variant""",
    "journey placement": """
        SELECT state, exit_reason, step_id, COUNT(*) FROM journeys_enrollment
        WHERE journey_id = %(journey)s GROUP BY state, exit_reason, step_id""",
    "journey funnel": """
        SELECT s.key, COUNT(DISTINCT r.enrollment_id) FROM journeys_steprun r
        JOIN journeys_step s ON s.id = r.step_id WHERE r.journey_id = %(journey)s GROUP BY s.key""",
    "journey messages": """
        SELECT step_id, channel, status, COUNT(*), COUNT(opened_at), COUNT(clicked_at), COUNT(unsubscribed_at)
        FROM messaging_message WHERE journey_id = %(journey)s GROUP BY step_id, channel, status""",
    "dashboard stages (scan)": """
        SELECT lifecycle_stage, COUNT(*) FROM segments_contactscore GROUP BY lifecycle_stage""",
    "dashboard segments (scan)": """
        SELECT rfm_segment, COUNT(*) FROM segments_contactscore GROUP BY rfm_segment""",
    "dashboard messages by day (scan)": """
        SELECT CAST(sent_at AS DATE), COUNT(*) FROM messaging_message
        WHERE sent_at >= %(month_ago)s GROUP BY CAST(sent_at AS DATE)""",
}


def generate(contacts: int, enrollments: int, seed: int) -> int:
    from django.utils import timezone

    from contacts.models import Contact, Order
    from journeys.models import Conversion, Enrollment, Step, StepRun
    from messaging.models import Message, MessageTemplate
    from reports.services import journey_snapshots_refresh, rollups_refresh
    from segments.models import ContactScore, ScoreChange, ScoringRun, Segment
    from tests.journeys.conftest import journey_build

    rng = random.Random(seed)
    now = timezone.now()
    with Timer(f"generate {contacts:,} contacts with scores"):
        for start in range(0, contacts, BATCH):
            stop = min(start + BATCH, contacts)
            Contact.objects.bulk_create(
                [Contact(email=f"b{i}@example.com", email_consent=True) for i in range(start, stop)]
            )
        ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), BATCH):
            ContactScore.objects.bulk_create(
                [
                    ContactScore(
                        contact_id=cid,
                        rfm_segment=rng.choice(SEGMENTS),
                        lifecycle_stage=rng.choice(STAGES),
                        clv_cluster=rng.choice(CLUSTERS),
                        predicted_clv=rng.uniform(0, 400),
                    )  # fmt: skip
                    for cid in ids[start : start + BATCH]
                ]
            )
    segment = Segment.objects.create(name="Everyone", rules={})
    template = MessageTemplate.objects.create(
        name="Bench", channel="email", subject="Hi", html_body="<p>Hi</p>"
    )
    journey = journey_build(
        "Bench journey",
        {
            "entry": ("entry", {"segment_id": segment.pk, "every": 1, "period": "days"}),
            "split": (
                "ab_split",
                {"variants": [{"label": "A", "percent": 50}, {"label": "B", "percent": 50}]},
            ),
            "Email A": ("send_email", {"template_id": template.pk}),
            "Email B": ("send_email", {"template_id": template.pk}),
        },
        [("entry", "next", "split"), ("split", "A", "Email A"), ("split", "B", "Email B")],
        holdout_percent=10,
        conversion_window_days=14,
    )
    steps = {s.name: s for s in Step.objects.filter(version=journey.current_version)}
    run = ScoringRun.objects.create(status="done")
    with Timer(f"generate {enrollments:,} enrollments, history, messages, conversions"):
        chosen = ids[:enrollments]
        for start in range(0, len(chosen), BATCH):
            batch = chosen[start : start + BATCH]
            rows = []
            for cid in batch:
                variant = "A" if cid % 2 else "B"
                rows.append(
                    Enrollment(
                        journey=journey,
                        version=journey.current_version,
                        contact_id=cid,
                        state="completed",
                        exit_reason="end",
                        entry_key=f"k{cid}",
                        holdout=cid % 10 == 0,
                        variant=variant,
                        entered_at=now - dt.timedelta(days=rng.randint(1, 30)),
                    )  # fmt: skip
                )
            made = Enrollment.objects.bulk_create(rows)
            made = list(Enrollment.objects.filter(journey=journey, contact_id__in=batch))
            runs, messages, orders = [], [], []
            for e in made:
                branch = steps[f"Email {e.variant}"]
                for visit, step in enumerate((steps["entry"], steps["split"], branch)):
                    runs.append(StepRun(enrollment=e, step=step, visit=visit, contact_id=e.contact_id,
                                        journey_id=journey.pk, kind=step.kind))  # fmt: skip
                if not e.holdout:
                    sent = e.entered_at + dt.timedelta(hours=1)
                    messages.append(
                        Message(
                            contact_id=e.contact_id,
                            channel="email",
                            idempotency_key=f"e{e.pk}",
                            status="sent",
                            journey_id=journey.pk,
                            step_id=branch.pk,
                            enrollment_id=e.pk,
                            sent_at=sent,
                            opened_at=sent if rng.random() < 0.4 else None,
                            clicked_at=sent if rng.random() < 0.08 else None,
                        )  # fmt: skip
                    )
                if rng.random() < (0.06 if e.holdout else 0.1):
                    orders.append(
                        Order(
                            external_id=f"O{e.pk}",
                            contact_id=e.contact_id,
                            total=rng.randint(20, 200),
                            placed_at=e.entered_at + dt.timedelta(days=rng.randint(0, 13)),
                        )  # fmt: skip
                    )
            StepRun.objects.bulk_create(runs)
            Message.objects.bulk_create(messages)
            Order.objects.bulk_create(orders)
            by_contact = {e.contact_id: e for e in made}
            Conversion.objects.bulk_create(
                [
                    Conversion(
                        enrollment=by_contact[o.contact_id],
                        journey=journey,
                        order=o,
                        contact_id=o.contact_id,
                        revenue=o.total,
                        variant=by_contact[o.contact_id].variant,
                        holdout=by_contact[o.contact_id].holdout,
                        converted_at=o.placed_at,
                    )  # fmt: skip
                    for o in Order.objects.filter(contact_id__in=batch)
                ]
            )
    with Timer("generate score changes for 5 % of contacts"):
        changers = rng.sample(ids, max(1, len(ids) // 20))
        for start in range(0, len(changers), BATCH):
            ScoreChange.objects.bulk_create(
                [
                    ScoreChange(
                        contact_id=cid,
                        run=run,
                        field=field,
                        changed_at=now - dt.timedelta(days=rng.randint(1, 25)),
                        old=rng.choice(values),
                        new=rng.choice(values),
                    )  # fmt: skip
                    for cid in changers[start : start + BATCH]
                    for field, values in (("segment", SEGMENTS), ("stage", STAGES), ("cluster", CLUSTERS))
                ]
            )
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    with Timer("rollups_refresh (the hourly beat task)"):
        rollups_refresh(message_days=30)
    with Timer("journey_snapshots_refresh (same task: stored journey reports)"):
        journey_snapshots_refresh()
    return journey.pk


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def main() -> int:
    parser = parser_make(__doc__)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--enrollments", type=int, default=15_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    django_setup(args.database_url)
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from journeys.models import Journey
    from reports.selectors.journey import journey_results

    with throwaway_database():
        journey_id = generate(args.contacts, min(args.enrollments, args.contacts), args.seed)
        user = User.objects.create_superuser("bench", "bench@example.com", "x")
        client = Client()
        client.force_login(user)
        since = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
        pages = {
            "dashboard (admin index)": "/admin/",
            "journey report (stored, hourly)": f"/reports/journeys/{journey_id}/",
            "journey report (filtered: day rows)": f"/reports/journeys/{journey_id}/?entered_from={since}",
            "journey report (counted live)": f"/reports/journeys/{journey_id}/?live=1",
            "audience movement": "/reports/movement/",
            "coupon pools": "/reports/coupons/",
        }
        print(f"\n{'page':<40}{'p50 ms':>10}{'p95 ms':>10}")
        worst = 0.0
        for name, url in pages.items():
            assert client.get(url).status_code == 200, url
            p50, p95 = timed(lambda url=url: client.get(url), args.repeat)
            worst = max(worst, p95)
            print(f"{name:<40}{p50:>10.1f}{p95:>10.1f}")
        params = {"journey": journey_id, "month_ago": timezone.now() - dt.timedelta(days=30)}
        print(f"\n{'hand-written SQL':<40}{'p50 ms':>10}{'p95 ms':>10}")
        for name, sql in HAND_SQL.items():

            def run(sql=sql):
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchall()

            p50, p95 = timed(run, args.repeat)
            print(f"{name:<40}{p50:>10.1f}{p95:>10.1f}")
        from django.db.models import Count

        from reports.selectors.movement import _movers, transition_matrix

        end = timezone.now()
        start = end - dt.timedelta(days=30)
        old_way = lambda: list(  # noqa: E731  (two history lookups per contact, as before the rewrite)
            _movers(field="segment", start=start, end=end)
            .values("value_from", "value_to")
            .annotate(n=Count("id"))
        )
        for name, fn in (
            ("movement matrix, lookups per contact", old_way),
            (
                "movement matrix, one pass (the page)",
                lambda: transition_matrix(field="segment", start=start, end=end),
            ),
        ):
            p50, p95 = timed(fn, args.repeat)
            print(f"{name:<40}{p50:>10.1f}{p95:>10.1f}")
        report = journey_results(journey=Journey.objects.get(pk=journey_id))
        with connection.cursor() as cursor:
            cursor.execute(HAND_SQL["journey groups"], params)
            groups = cursor.fetchall()
        same = (
            report["entered"] == sum(r[2] for r in groups)
            and report["converted"] == sum(r[3] for r in groups)
            and abs(report["revenue"] - float(sum(r[4] for r in groups))) < 0.01
        )
        print(f"\nworst page p95: {worst:.1f} ms (target 300 ms: 1M contacts, 300k enrollments, PostgreSQL)")
        return result_line(same, "page and hand-written SQL agree on the journey's totals", "totals DIFFER")


if __name__ == "__main__":
    sys.exit(main())
