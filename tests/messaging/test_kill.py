"""The delivery guarantee under SIGKILL (README "Guarantees > Delivery").

2,000 contacts go through journey entry -> assign coupon -> email into a recording SMTP sink, while two
real Celery workers (one with the beat) send in parallel; six times mid-send one of them is SIGKILLed
as a process group, in turn, and restarted. Afterwards: no email arrived twice; every contact's
email was sent, except at most one "in doubt" per kill and delivery connection (each visible as such,
never re-sent by itself); run with one and with four connections per worker; every code is unique
and is the one the contact was mailed; no enrollment is stuck.

Runs on SQLite + filesystem broker and on PostgreSQL + Redis (whatever DATABASE_URL and
CELERY_BROKER_URL say). The filesystem broker loses the task in flight when its worker dies, and Redis
hides it for an hour (visibility timeout): either way the delivery sweep (beat) puts expired claims
back and hands them over again, which is what this test proves.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings

from tests.conftest import test_database_url
from tests.messaging.conftest import SmtpSink, free_port

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = 2000
KILLS = 6
CODE = re.compile(r"Your code: (\S+)</p>")


class KillableWorker:
    """`celery -A winback worker` (one pool process, `-B`: with the beat) as a process group."""

    def __init__(self, sink: SmtpSink, name: str, *, beat: bool, connections: int):
        self.name, self.beat = name, beat
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "winback.settings",
            "DATABASE_URL": test_database_url(),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": sink.host,
            "EMAIL_PORT": str(sink.port),
            "EMAIL_TIMEOUT": "10",
            "MESSAGING_EMAIL_RATE_PER_SECOND": "0",
            "MESSAGING_CLAIM_SIZE": "10",
            "MESSAGING_DELIVERY_CONNECTIONS": str(connections),
            "MESSAGING_LEASE_SECONDS": "3",
            "MESSAGING_SWEEP_SECONDS": "1",
            "MESSAGING_STALE_QUEUED_SECONDS": "15",
            "JOURNEYS_TICK_SECONDS": "1",
            "JOURNEYS_CLAIM_LEASE_SECONDS": "3",
            "SECURE_SSL_REDIRECT": "false",
        }
        self.log = Path(settings.VAR_DIR) / f"kill-worker-{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "winback",
            "worker",
            "--hostname",
            f"{self.name}@%h",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
        ]
        if self.beat:
            command += ["-B", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture
def sink():
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture(params=[1, 4], ids=["one-connection", "four-connections"])
def connections(request) -> int:
    """MESSAGING_DELIVERY_CONNECTIONS of the workers (SQLite always sends over one)."""
    return request.param


@pytest.fixture
def workers(sink, connections):
    from winback.celery import app

    app.control.purge()
    workers = [
        KillableWorker(sink, "a", beat=True, connections=connections),
        KillableWorker(sink, "b", beat=False, connections=connections),
    ]
    yield workers
    for worker in workers:
        worker.stop()


def wait_for(condition, *, timeout: float, workers: list[KillableWorker], what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    logs = "\n".join(f"--- worker {w.name} ---\n{w.tail()}" for w in workers)
    pytest.fail(f"Timed out waiting for {what}.\n{logs}")


def test_sigkilled_workers_lose_no_email_and_send_none_twice(workers, sink, connections):
    from contacts.models import Contact
    from coupons.models import Coupon, CouponPool
    from coupons.services import coupons_generate
    from journeys.models import Enrollment
    from journeys.services import journey_enter
    from messaging.models import Message, MessageTemplate
    from segments.models import Segment
    from tests.journeys.conftest import contacts_make, journey_build

    everyone = Segment.objects.create(name="Everyone", rules={})
    template = MessageTemplate.objects.create(
        name="Winback",
        channel="email",
        subject="We miss you",
        html_body="<p>Your code: {{ coupon.code }}</p>",
    )
    pool = CouponPool.objects.create(name="W15", offer_kind="percent", offer_value=15)
    coupons_generate(pool=pool, count=CONTACTS + 100)
    contacts_make(CONTACTS, prefix="kill")
    journey = journey_build(
        "Kill test",
        {
            "entry": ("entry", {"segment_id": everyone.pk, "every": 1, "period": "days"}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "email": ("send_email", {"template_id": template.pk}),
        },
        [("entry", "next", "coupon"), ("coupon", "next", "email")],
    )
    assert journey_enter(journey=journey) == CONTACTS

    def received() -> int:
        return len(sink.received)

    for worker in workers:
        worker.start()
    kills = 0
    for threshold in [CONTACTS * (k + 1) // (KILLS + 2) for k in range(KILLS)]:
        # Mid-send: the workers are mailing (the count moves) and have not finished.
        wait_for(
            lambda t=threshold: received() >= t, timeout=120, workers=workers, what=f"{threshold} emails"
        )
        assert received() < CONTACTS, "the send finished before the kill: nothing was tested"
        victim = workers[kills % 2]
        assert victim.process.poll() is None, f"worker {victim.name} died by itself\n{victim.tail()}"
        victim.kill()
        kills += 1
        victim.start()

    def settled() -> bool:
        return (
            not Enrollment.objects.filter(journey=journey, state__in=Enrollment.IN_FLIGHT).exists()
            and Message.objects.filter(journey_id=journey.pk).count() == CONTACTS
            and not Message.objects.filter(
                journey_id=journey.pk, status__in=[Message.Status.QUEUED, Message.Status.SENDING]
            ).exists()
        )

    wait_for(settled, timeout=240, workers=workers, what="every message to be sent or in doubt")
    for worker in workers:
        worker.stop()

    # The kills hit sends in progress: the sweep took claims back or declared messages in doubt.
    sweep_lines = [
        (int(requeued), int(in_doubt))
        for worker in workers
        for requeued, in_doubt in re.findall(
            r"delivery sweep: (\d+) requeued, (\d+) in doubt", worker.log.read_text()
        )
    ]
    assert sum(r + d for r, d in sweep_lines) > 0, "no kill interrupted a send: nothing was tested"

    # No email arrived twice.
    arrivals = Counter(str(m["Message-ID"]) for m in sink.received)
    assert [mid for mid, n in arrivals.items() if n > 1] == []
    assert len({m["To"] for m in sink.received}) == len(sink.received)

    # Every contact's message was sent, except at most one in doubt per kill and connection (each
    # connection sends one message at a time), each shown as such.
    messages = list(Message.objects.filter(journey_id=journey.pk))
    statuses = Counter(m.status for m in messages)
    assert set(statuses) <= {Message.Status.SENT, Message.Status.IN_DOUBT}, statuses
    from django.db import connection

    in_flight = connections if connection.vendor == "postgresql" else 1
    assert statuses[Message.Status.IN_DOUBT] <= kills * in_flight, statuses
    assert {m.contact_id for m in messages} == set(Contact.objects.values_list("id", flat=True))
    in_doubt = [m for m in messages if m.status == Message.Status.IN_DOUBT]
    assert all(m.reason.startswith("in doubt") and m.attempt_started_at for m in in_doubt)
    from messaging.services import message_id_header

    arrived = set(arrivals)
    sent = [m for m in messages if m.status == Message.Status.SENT]
    assert all(message_id_header(m.idempotency_key) in arrived for m in sent)  # "sent" means it arrived
    assert len(arrived) >= len(sent)  # plus any in-doubt message that did arrive

    # Codes: one per contact, unique, and the one the contact was mailed.
    assigned = dict(
        Coupon.objects.filter(pool=pool, contact__isnull=False).values_list("contact__email", "code")
    )
    assert len(assigned) == CONTACTS and len(set(assigned.values())) == CONTACTS
    for mail in sink.received:
        body = mail.get_body(("html",)).get_content()
        assert CODE.search(body).group(1) == assigned[mail["To"]]

    # No enrollment stuck.
    assert Enrollment.objects.filter(journey=journey, state=Enrollment.State.COMPLETED).count() == CONTACTS
