"""End to end with a REAL Celery worker and beat (subprocess), mail into a local SMTP server.

The worker runs winback.settings against the test database (SQLite file under WINBACK_VAR_DIR, or
the PostgreSQL test database) with the broker from CELERY_BROKER_URL (filesystem or Redis).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from django.utils import timezone

from contacts.models import Order
from journeys.models import Enrollment, StepRun
from journeys.services import journey_enter, journey_pause, journey_resume
from tests.journeys.conftest import contacts_make, journey_build
from tests.messaging.conftest import SmtpSink, free_port

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or "postgres"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = f"{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{config['NAME']}"


class Worker:
    """`celery -A winback worker -B` as a process group we can SIGKILL and restart."""

    def __init__(self, sink: SmtpSink):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.journeys.worker_settings",
            "DATABASE_URL": database_url(),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": sink.host,
            "EMAIL_PORT": str(sink.port),
            "MESSAGING_EMAIL_RATE_PER_SECOND": "0",
            "JOURNEYS_TICK_SECONDS": "1",
            "JOURNEYS_CLAIM_LEASE_SECONDS": "3",
            "SECURE_SSL_REDIRECT": "false",
        }
        self.log = Path(settings.VAR_DIR) / "worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "winback",
            "worker",
            "-B",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        ]
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)  # cold shutdown: the test is over
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def sink():
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def worker(sink):
    from winback.celery import app

    app.control.purge()  # no task left over from an earlier run (ids may be reused)
    worker = Worker(sink)
    yield worker
    worker.stop()


def wait_for(condition, *, timeout: float, worker: Worker, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    log = worker.log.read_text(errors="replace")[-4000:] if worker.log.exists() else ""
    pytest.fail(f"Timed out waiting for {what}.\n--- worker log ---\n{log}")


@pytest.fixture
def templates_and_pool():
    from coupons.models import CouponPool
    from coupons.services import coupons_generate
    from messaging.models import MessageTemplate
    from segments.models import Segment

    everyone = Segment.objects.create(name="Everyone", rules={})
    template = MessageTemplate.objects.create(
        name="Winback",
        channel="email",
        subject="We miss you",
        html_body="<p>Your code: {{ coupon.code }}</p>",
    )
    pool = CouponPool.objects.create(name="W15", offer_kind="percent", offer_value=15)
    coupons_generate(pool=pool, count=20)
    return everyone, template, pool


def test_entry_wait_condition_coupon_email_pause_and_unsubscribe(worker, sink, templates_and_pool):
    everyone, template, pool = templates_and_pool
    started = timezone.now()
    buyer, first, second = contacts_make(3)
    Order.objects.create(
        external_id="b1", contact=buyer, placed_at=started + dt.timedelta(seconds=1), total=10
    )
    # Beat fires the entry schedule (start time in the past: due at once).
    winback = journey_build(
        "Winback e2e",
        {
            "entry": (
                "entry",
                {
                    "segment_id": everyone.pk,
                    "every": 1,
                    "period": "hours",
                    "start_at": (started - dt.timedelta(minutes=1)).isoformat(),
                },
            ),
            "wait": ("wait", {"seconds": 3}),
            "bought": ("has_purchased", {"more_than": 0, "days": 1}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "email": ("send_email", {"template_id": template.pk}),
            "wait2": ("wait", {"seconds": 4}),
            "again": ("send_email", {"template_id": template.pk}),
        },
        [
            ("entry", "next", "wait"),
            ("wait", "next", "bought"),
            ("bought", "no", "coupon"),
            ("coupon", "next", "email"),
            ("email", "next", "wait2"),
            ("wait2", "next", "again"),
        ],
    )
    # A second journey, paused: its contacts must not move.
    held = journey_build(
        "Held",
        {
            "entry": ("entry", {"segment_id": everyone.pk, "every": 1, "period": "days"}),
            "email": ("send_email", {"template_id": template.pk}),
        },
        [("entry", "next", "email")],
    )
    journey_enter(journey=held)
    journey_pause(journey=held)

    worker.start()
    wait_for(lambda: len(sink.received) >= 2, timeout=25, worker=worker, what="the coupon emails")
    # The first emails arrived: `second` unsubscribes before the follow-up.
    from messaging.services import contact_unsubscribe

    contact_unsubscribe(contact_id=second.pk)
    wait_for(
        lambda: not Enrollment.objects.filter(journey=winback, state__in=Enrollment.IN_FLIGHT).exists(),
        timeout=20,
        worker=worker,
        what="the journey to finish",
    )
    time.sleep(1.5)  # let any (wrong) extra delivery arrive
    recipients = sorted(m["To"] for m in sink.received)
    assert recipients == sorted([first.email, first.email, second.email])
    codes = {
        e.data["coupon"]["code"]
        for e in Enrollment.objects.filter(journey=winback, contact__in=[first, second])
    }
    assert all(any(code in m.get_body(("html",)).get_content() for m in sink.received) for code in codes)
    assert Enrollment.objects.get(journey=winback, contact=buyer).step.name == "bought"
    assert StepRun.objects.get(enrollment__contact=second, step__name="again").outcome == "suppressed"
    # The paused journey held its contacts at the entry step.
    assert not StepRun.objects.filter(journey_id=held.pk).exists()
    journey_resume(journey=held)
    wait_for(lambda: len(sink.received) >= 5, timeout=15, worker=worker, what="the resumed journey's mail")
    assert sorted(m["To"] for m in sink.received[3:]) == sorted([buyer.email, first.email])


@pytest.fixture
def pause_step():
    from journeys.steps import registry
    from tests.journeys.slow_step import Pause

    registry[Pause.kind] = Pause()  # the worker gets it from tests/journeys/worker_settings.py
    yield
    registry.pop(Pause.kind)


def test_worker_killed_mid_batch_sends_each_message_exactly_once(
    worker, sink, templates_and_pool, pause_step
):
    everyone, template, pool = templates_and_pool
    journey = journey_build(
        "Kill",
        {
            "entry": ("entry", {"segment_id": everyone.pk, "every": 1, "period": "days"}),
            "tag": ("update_contact", {"action": "set_attribute", "attribute": "seen", "value": True}),
            "email": ("send_email", {"template_id": template.pk}),
            # Inside the batch transaction, after the messages were queued: the kill lands here.
            "slow": ("test_pause", {"seconds": 2}),
        },
        [("entry", "next", "tag"), ("tag", "next", "email"), ("email", "next", "slow")],
    )
    count = 250
    contacts_make(count)  # one batch (batch size 1000)
    assert journey_enter(journey=journey) == count
    worker.start()

    def batch_taken() -> bool:
        if connection.vendor == "postgresql":  # the tick's claim is its row locks
            from django.db import transaction

            with transaction.atomic():
                free = Enrollment.objects.select_for_update(skip_locked=True).values_list("id", flat=True)
                return len(list(free)) < count
        return Enrollment.objects.exclude(claimed_by="").exists()  # a lease written to the rows

    wait_for(batch_taken, timeout=20, worker=worker, what="a claim")
    time.sleep(0.5)
    worker.kill()  # SIGKILL the worker and its pool mid-batch (inside the 2 s step)
    assert not StepRun.objects.exists() and not sink.received  # nothing of that batch was committed
    worker.start()
    wait_for(
        lambda: Enrollment.objects.filter(state="completed").count() == count and len(sink.received) >= count,
        timeout=40,
        worker=worker,
        what="every contact to be mailed",
    )
    time.sleep(1.5)
    recipients = [m["To"] for m in sink.received]
    assert len(recipients) == count and len(set(recipients)) == count
    assert StepRun.objects.filter(kind="send_email").count() == count
    from messaging.models import Message

    assert Message.objects.filter(journey_id=journey.pk, status="sent").count() == count


def test_quiet_hours_and_frequency_cap_hold_with_a_real_worker(worker, sink, templates_and_pool):
    everyone, template, _pool = templates_and_pool
    now = timezone.now()
    steps = {
        "entry": ("entry", {"segment_id": everyone.pk, "every": 1, "period": "days"}),
        "email": ("send_email", {"template_id": template.pk}),
    }
    quiet = journey_build(
        "Quiet e2e",
        steps,
        [("entry", "next", "email")],
        quiet_hours_start=(now - dt.timedelta(hours=1)).time(),
        quiet_hours_end=(now + dt.timedelta(hours=1)).time(),
    )
    capped = journey_build(
        "Capped e2e",
        {**steps, "again": ("send_email", {"template_id": template.pk})},
        [("entry", "next", "email"), ("email", "next", "again")],
        frequency_cap_messages=1,
        frequency_cap_days=1,
        frequency_cap_action="skip",
    )
    (night_owl,) = contacts_make(1, prefix="owl", timezone="UTC")
    journey_enter(journey=quiet)
    journey_enter(journey=capped)  # night_owl is in both
    worker.start()
    wait_for(
        lambda: Enrollment.objects.filter(journey=capped, state="completed").exists(),
        timeout=25,
        worker=worker,
        what="the capped journey to finish",
    )
    time.sleep(3)  # several more ticks
    # Capped journey: the first mail goes, the second is over the cap (skipped); the quiet
    # journey's mail waits for the end of quiet hours.
    assert len(sink.received) == 1
    outcomes = dict(
        StepRun.objects.filter(journey_id=capped.pk, kind="send_email").values_list("step__name", "outcome")
    )
    assert outcomes == {"email": "sent", "again": "capped"}
    waiting = Enrollment.objects.get(journey=quiet)
    assert waiting.state == "waiting" and "quiet hours" in waiting.wait_reason
    assert waiting.due_at > timezone.now()
