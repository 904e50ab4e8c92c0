"""Benchmark: contacts per second through entry -> wait -> condition -> coupon -> email, into a local
SMTP sink (aiosmtpd), with the journey engine (set-based entry, batched tick) beside a naive
per-contact loop over the same data (one query/service call per contact and step, as a script would).

    .venv/bin/python bench/journeys.py --contacts 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/journeys.py --contacts 100000

The data go into a throw-away test database (`test_<name>`), never into the configured one.
The naive loop runs on a sample (--naive-contacts, default 2,000) and its rate is compared per contact.
Prints the timings, contacts per second and the ratio; checks that every contact got exactly one email.
Then the tick alone (entry -> wait, wait -> condition -> coupon -> queue) on a fresh journey with one
worker process and with two forked worker processes ticking the same journey at once (--worker-contacts
each): the speed-up, and a check that every contact was advanced, coded and messaged exactly once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402
from _common import Timer, figure  # noqa: E402

django.setup()

from _delivery import deliver_queued, sink_capacity  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from smtp_sink import SinkProcess  # noqa: E402

from contacts.models import Contact, Order  # noqa: E402
from coupons.models import Coupon, CouponPool  # noqa: E402
from coupons.services import coupon_assign, coupons_generate  # noqa: E402
from journeys.models import Edge, Enrollment, Journey, Step  # noqa: E402
from journeys.services import journey_enter, journey_publish, journeys_tick  # noqa: E402
from messaging.models import Message, MessageTemplate  # noqa: E402
from messaging.services import Outgoing, messages_deliver, messages_queue  # noqa: E402
from segments.models import Segment  # noqa: E402
from segments.selectors import segment_contains  # noqa: E402

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def generate(prefix: str, count: int) -> None:
    """Contacts with consent; every 10th bought recently (the condition sends them to the end)."""
    batch = 5000
    for start in range(0, count, batch):
        Contact.objects.bulk_create(
            [
                Contact(email=f"{prefix}{i}@example.com", email_consent=True, country=prefix[:2].upper())
                for i in range(start, min(start + batch, count))
            ]
        )
    buyers = Contact.objects.filter(country=prefix[:2].upper()).values_list("id", flat=True)[::10]
    Order.objects.bulk_create(
        [
            Order(
                external_id=f"{prefix}-o{cid}", contact_id=cid, placed_at=T0 - dt.timedelta(days=3), total=30
            )
            for cid in buyers
        ],
        batch_size=5000,
    )


def setup_journey(segment: Segment, template: MessageTemplate, pool: CouponPool) -> Journey:
    journey = Journey.objects.create(name=f"Bench {segment.name}")
    steps = {
        "entry": ("entry", {"segment_id": segment.pk, "every": 1, "period": "days"}),
        "wait": ("wait", {"days": 1}),
        "bought": ("has_purchased", {"more_than": 0, "days": 30}),
        "coupon": ("assign_coupon", {"pool_id": pool.pk}),
        "email": ("send_email", {"template_id": template.pk}),
    }
    made = {
        k: Step.objects.create(journey=journey, name=k, kind=kind, config=cfg)
        for k, (kind, cfg) in steps.items()
    }
    for a, branch, b in [
        ("entry", "next", "wait"),
        ("wait", "next", "bought"),
        ("bought", "no", "coupon"),
        ("coupon", "next", "email"),
    ]:
        Edge.objects.create(journey=journey, from_step=made[a], branch=branch, to_step=made[b])
    journey_publish(journey=journey, now=T0)
    return journey


def run_engine(
    journey: Journey, sink: SinkProcess, *, profile: bool = False
) -> tuple[float, float, int, float, int]:
    """Entry, two ticks, then the delivery of the queued emails. Returns (seconds for all, seconds for
    the steps, emails the sink received, seconds for the delivery, average bytes per email)."""
    before, bytes_before = sink.report()
    with Timer("engine: entry (one INSERT ... SELECT)") as t_entry:
        entered = journey_enter(journey=journey, now=T0)
    with Timer("engine: tick 1 (entry -> wait)") as t_tick1:
        journeys_tick(now=T0, deliver="", max_seconds=None)
    later = T0 + dt.timedelta(days=1, seconds=1)
    with Timer("engine: tick 2 (wait -> condition -> coupon -> queue email)") as t_tick2:
        report = journeys_tick(now=later, deliver="", max_seconds=None)
    steps = t_entry.seconds + t_tick1.seconds + t_tick2.seconds
    print(
        f"  engine: {entered:,} entered, {report.steps_run:,} step runs in tick 2, {report.batches} batches"
    )
    send_seconds = deliver_queued(journey, profile=profile)
    after, bytes_after = sink.report()
    sent = len(after) - len(before)
    return steps + send_seconds, steps, sent, send_seconds, (bytes_after - bytes_before) // max(sent, 1)


def _tick_worker(at: dt.datetime, results) -> None:
    """One worker process (forked): tick until nothing is due, report what it advanced."""
    try:
        report = journeys_tick(now=at, deliver="", max_seconds=None)
        results.put((report.claimed, report.steps_run, report.conflicts))
    finally:
        connection.close()


def _tick_with_workers(at: dt.datetime, workers: int) -> tuple[float, list[tuple]]:
    """Tick with `workers` processes at once (forked, each with its own connection). Returns the wall
    time and each worker's (claimed, steps run, conflicts)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    connection.close()  # never share the parent's connection with the children
    started = time.perf_counter()
    processes = [context.Process(target=_tick_worker, args=(at, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    return time.perf_counter() - started, reports


def run_workers(prefix: str, count: int, template: MessageTemplate, workers: int) -> tuple[float, bool]:
    """The journey tick (tick 1: entry -> wait; tick 2: wait -> condition -> coupon -> queue) over
    `count` new contacts with `workers` worker processes ticking the same journey at once. Returns
    contacts/s over the two ticks and whether every contact was advanced exactly once."""
    generate(prefix, count)
    segment = Segment.objects.create(
        name=prefix[:2].upper(), rules={"field": "country", "operator": "eq", "value": prefix[:2].upper()}
    )
    pool = CouponPool.objects.create(name=f"Pool {prefix}")
    coupons_generate(pool=pool, count=count)
    journey = setup_journey(segment, template, pool)
    journey_enter(journey=journey, now=T0)
    first, reports1 = _tick_with_workers(T0, workers)
    second, reports2 = _tick_with_workers(T0 + dt.timedelta(days=1, seconds=1), workers)
    expected = count - len(range(0, count, 10))
    messages = Message.objects.filter(journey_id=journey.pk).count()
    keys = Message.objects.filter(journey_id=journey.pk).values("enrollment_id").distinct().count()
    codes = Coupon.objects.filter(pool=pool, contact__isnull=False).count()
    done = Enrollment.objects.filter(journey=journey, state="completed").count()
    ok = messages == keys == codes == expected and done == count
    shares = ", ".join(f"{claimed:,}" for claimed, _steps, _conflicts in reports2)
    print(
        f"  {workers} worker(s): tick 1 {first:.2f} s, tick 2 {second:.2f} s; contacts per worker in tick 2: "
        f"{shares}; {messages:,} messages for {keys:,} enrollments (expected {expected:,}), {codes:,} codes, "
        f"{done:,} of {count:,} completed: {'exactly once' if ok else 'MISMATCH'}"
    )
    return count / (first + second), ok


def run_naive(
    segment: Segment, template: MessageTemplate, pool: CouponPool, journey: Journey, sink
) -> tuple[float, int]:
    """What a straightforward script does: every contact, every step, one at a time."""
    before = sink.count
    sending = 0.0
    journey.refresh_from_db()
    entry = Step.objects.get(version=journey.current_version, kind="entry")
    with Timer("naive: per-contact loop (same steps, same SMTP sink)") as t:
        for contact in Contact.objects.filter(country=segment.name[:2].upper()).order_by("id").iterator():
            if contact.id not in segment_contains(segment=segment, contact_ids=[contact.id]):
                continue
            if Enrollment.objects.filter(journey=journey, contact=contact).exists():
                continue
            enrollment = Enrollment.objects.create(
                journey=journey,
                version=journey.current_version,
                contact=contact,
                step=entry,
                entry_key="naive",
                state="completed",
                entered_at=T0,
            )
            bought = Order.objects.filter(contact=contact, placed_at__gte=T0 - dt.timedelta(days=30)).count()
            if bought > 0:
                continue
            result = coupon_assign(pool=pool, contact=contact)
            if result.coupon is None:
                continue
            ids = messages_queue(
                template=template,
                outgoing=[
                    Outgoing(
                        contact_id=contact.id,
                        idempotency_key=f"naive:{enrollment.id}",
                        context={"coupon": {"code": result.coupon.code}},
                        journey_id=journey.pk,
                        enrollment_id=enrollment.id,
                    )
                ],
            )
            started = time.perf_counter()
            messages_deliver(message_ids=ids)
            sending += time.perf_counter() - started
    print(f"  naive: of which SMTP delivery {sending:.2f} s")
    return t.seconds, t.seconds - sending, sink.count - before


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--naive-contacts", type=int, default=2_000)
    parser.add_argument(
        "--worker-contacts", type=int, default=None, help="per worker run (default: --contacts)"
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the delivery")
    args = parser.parse_args()
    naive_count = min(args.naive_contacts, args.contacts)

    sink = SinkProcess().__enter__()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.MESSAGING_EMAIL_RATE_PER_SECOND = 0

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    ok = True
    try:
        print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
        template = MessageTemplate.objects.create(
            name="Bench",
            channel="email",
            subject="We miss you",
            html_body="<p>Your code {{ coupon.code }}</p>",
        )
        with Timer(f"generate {args.contacts:,} + {naive_count:,} contacts, orders, coupon codes"):
            generate("engine", args.contacts)
            generate("naive", naive_count)
            engine_segment = Segment.objects.create(
                name="EN", rules={"field": "country", "operator": "eq", "value": "EN"}
            )
            naive_segment = Segment.objects.create(
                name="NA", rules={"field": "country", "operator": "eq", "value": "NA"}
            )
            engine_pool = CouponPool.objects.create(name="Engine pool")
            naive_pool = CouponPool.objects.create(name="Naive pool")
            coupons_generate(pool=engine_pool, count=args.contacts)
            coupons_generate(pool=naive_pool, count=naive_count)
            engine_journey = setup_journey(engine_segment, template, engine_pool)
            naive_journey = setup_journey(naive_segment, template, naive_pool)

        expected_engine = args.contacts - len(range(0, args.contacts, 10))
        expected_naive = naive_count - len(range(0, naive_count, 10))
        engine_seconds, engine_steps, engine_sent, send_seconds, email_bytes = run_engine(
            engine_journey, sink, profile=args.profile
        )
        capacity_count = min(max(engine_sent, 1), 5_000)
        capacity_first = sink_capacity(sink, capacity_count, email_bytes)
        naive_seconds, naive_steps, naive_sent = run_naive(
            naive_segment, template, naive_pool, naive_journey, sink
        )
        worker_count = args.worker_contacts or args.contacts
        one_rate, one_ok = run_workers("onew", worker_count, template, 1)
        two_rate, two_ok = run_workers("twow", worker_count, template, 2)
        print(f"  two workers / one worker: {two_rate / one_rate:.2f}x")
        # Measured again after the naive run; the higher of the two counts (the other jobs on the
        # machine slow the sink down as much as Winback, so the better moment is the limit).
        capacity = max(capacity_first, sink_capacity(sink, capacity_count, email_bytes, tag="again"))
        engine_rate = args.contacts / engine_seconds
        naive_rate = naive_count / naive_seconds
        print()
        print(
            f"  engine: {args.contacts:,} contacts in {engine_seconds:.2f} s = {engine_rate:,.0f} contacts/s"
        )
        print(f"  naive:  {naive_count:,} contacts in {naive_seconds:.2f} s = {naive_rate:,.0f} contacts/s")
        print(f"  ratio (engine / naive, contacts per second): {engine_rate / naive_rate:.1f}x")
        steps_ratio = (args.contacts / engine_steps) / (naive_count / naive_steps)
        print(
            f"  without SMTP time: engine {args.contacts / engine_steps:,.0f}/s, "
            f"naive {naive_count / naive_steps:,.0f}/s, ratio {steps_ratio:.1f}x"
        )
        recipients = sink.report()[0]
        duplicates = len(recipients) - len(set(recipients))
        print(
            f"  emails received: engine {engine_sent:,} (expected {expected_engine:,}), "
            f"naive {naive_sent:,} (expected {expected_naive:,}), duplicates {duplicates}"
        )
        ok = engine_sent == expected_engine and naive_sent == expected_naive and duplicates == 0
        delivery_rate = engine_sent / send_seconds if send_seconds else 0.0
        print(
            f"  delivery: {delivery_rate:,.0f} emails/s; the sink alone on one connection {capacity:,.0f}/s"
        )
        figure(
            f"journey tick, {args.contacts:,} contacts (entry > wait > condition > coupon > queue), no SMTP",
            args.contacts / engine_steps,
            naive_count / naive_steps,
            "contacts/s",
            f"baseline: per-contact loop on {naive_count:,} contacts, SMTP time excluded on both sides",
        )
        figure(
            f"journey tick, two worker processes at once, {worker_count:,} contacts (ticks 1 and 2)",
            two_rate,
            one_rate,
            "contacts/s",
            "baseline: one worker, same journey shape; ratio = speed-up (2 cores, shared with PostgreSQL)",
        )
        ok = ok and one_ok and two_ok
        figure(
            f"email delivery, {engine_sent:,} emails vs the SMTP sink's own capacity (one connection)",
            delivery_rate,
            capacity,
            "emails/s",
            "ratio below 1: the share of the sink's capacity reached (goal 0.9)",
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        sink.__exit__()
    print("RESULT:", "every contact mailed exactly once" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
