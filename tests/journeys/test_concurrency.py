"""Two workers at once (threads with their own connections) never double-send; a failing step retries."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection

from journeys.models import Enrollment, StepRun
from journeys.services import journey_enter, journeys_tick
from tests.journeys.conftest import T0, contacts_make, journey_build


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_send_each_message_once(segment_everyone, email_template, pool):
    journey = journey_build(
        "Race",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "mail": ("send_email", {"template_id": email_template.pk}),
        },
        [("entry", "next", "coupon"), ("coupon", "next", "mail")],
        now=T0,
    )
    contacts_make(40)
    journey_enter(journey=journey, now=T0)
    errors = []

    def worker():
        try:
            journeys_tick(now=T0, batch_size=7, deliver="now", max_seconds=None)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert Enrollment.objects.filter(state="completed").count() == 40
    assert StepRun.objects.filter(kind="send_email").count() == 40
    recipients = [m.to[0] for m in mail.outbox]
    assert len(recipients) == 40 and len(set(recipients)) == 40
    codes = list(Enrollment.objects.values_list("data__coupon__code", flat=True))
    assert len(set(codes)) == 40


@pytest.mark.django_db
def test_a_failing_step_retries_later_and_fails_after_repeated_errors(segment_everyone, pool):
    from coupons.models import CouponPool

    journey = journey_build(
        "Flaky",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
        },
        [("entry", "next", "coupon")],
        now=T0,
    )
    contacts_make(2)
    journey_enter(journey=journey, now=T0)
    CouponPool.objects.filter(pk=pool.pk).delete()  # the step now raises
    import datetime as dt

    now = T0
    for attempt in range(1, 6):
        journeys_tick(now=now, deliver="", max_seconds=None)
        states = set(Enrollment.objects.values_list("state", flat=True))
        if attempt < 5:
            assert states == {"waiting"}
            assert "retry after error" in Enrollment.objects.first().wait_reason
        now += dt.timedelta(minutes=6)
    assert set(Enrollment.objects.values_list("state", flat=True)) == {"failed"}
    assert StepRun.objects.filter(kind="assign_coupon").count() == 0


class _Counting:
    """A slow step that counts how often it ran per enrollment (side effects outside the DB)."""

    kind = "test_counting_pause"
    label = "Counting pause (tests)"
    runs: list[int] = []

    def __init__(self, seconds: float):
        from tests.journeys.slow_step import Pause

        self.inner, self.seconds = Pause(), seconds

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def validate(self, config):
        return dict(config or {})

    def run(self, *, step, enrollments, ctx):
        import time

        from journeys.steps import StepResult

        time.sleep(self.seconds)
        _Counting.runs.extend(e.id for e in enrollments)
        return {e.id: StepResult("next") for e in enrollments}


@pytest.mark.django_db(transaction=True)
def test_a_slow_worker_whose_lease_expired_causes_no_double_execution(
    segment_everyone, email_template, settings
):
    """Worker A is slow (not dead): its 1 s lease expires inside a 2.5 s step. Worker B ticks meanwhile.
    Every step runs once per contact, each contact is mailed once, and neither tick raises."""
    import time

    from journeys.steps import registry

    settings.JOURNEYS_CLAIM_LEASE_SECONDS = 1
    _Counting.runs = []
    registry[_Counting.kind] = _Counting(seconds=2.5)
    try:
        journey = journey_build(
            "Slow",
            {
                "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
                "mail": ("send_email", {"template_id": email_template.pk}),
                "slow": (_Counting.kind, {}),
            },
            [("entry", "next", "mail"), ("mail", "next", "slow")],
        )
        contacts_make(12)
        journey_enter(journey=journey)
        reports, errors = {}, []

        def tick(name, delay):
            time.sleep(delay)
            try:
                reports[name] = journeys_tick(deliver="now", max_seconds=None)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=tick, args=("a", 0)),
            threading.Thread(target=tick, args=("b", 1.5)),  # A's lease has expired by then
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        registry.pop(_Counting.kind)
    assert errors == []
    assert sorted(_Counting.runs) == sorted(Enrollment.objects.values_list("id", flat=True))
    assert Enrollment.objects.filter(state="completed").count() == 12
    assert StepRun.objects.filter(kind="send_email").count() == 12
    recipients = [m.to[0] for m in mail.outbox]
    assert len(recipients) == 12 and len(set(recipients)) == 12


class _Meet:
    """Holds each batch until the other worker's batch arrives too (or 2 s pass)."""

    kind = "test_meet"
    label = "Meet (tests)"

    def __init__(self):
        self.barrier = threading.Barrier(2)

    def branches(self, config):
        return ["next"]

    def validate(self, config):
        return dict(config or {})

    def describe(self, config):
        return ""

    is_message = False

    def run(self, *, step, enrollments, ctx):
        from journeys.steps import StepResult

        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=2)
        return {e.id: StepResult("next") for e in enrollments}


@pytest.mark.django_db(transaction=True)
def test_frequency_cap_holds_when_two_workers_message_the_same_contacts_at_once(
    segment_everyone, email_template
):
    from journeys.steps import registry

    registry[_Meet.kind] = _Meet()
    try:
        cap = {"frequency_cap_messages": 1, "frequency_cap_days": 7, "frequency_cap_action": "skip"}
        journeys = [
            journey_build(
                name,
                {
                    "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
                    "meet": (_Meet.kind, {}),
                    "mail": ("send_email", {"template_id": email_template.pk}),
                },
                [("entry", "next", "meet"), ("meet", "next", "mail")],
                now=T0,
                **cap,
            )
            for name in ("Cap one", "Cap two")
        ]
        contacts_make(5)
        for journey in journeys:
            journey_enter(journey=journey, now=T0)
        # Each worker takes one journey's contacts (claimed up front), then both advance at once.
        from journeys.services.engine import batch_advance

        for journey, token in zip(journeys, ("w1", "w2"), strict=True):
            Enrollment.objects.filter(journey=journey).update(
                claimed_by=token, claimed_until=T0 + dt.timedelta(hours=1)
            )
        errors = []

        def advance(token):
            try:
                batch_advance(token=token, now=T0)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=advance, args=(t,)) for t in ("w1", "w2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        registry.pop(_Meet.kind)
    assert errors == []
    sent = StepRun.objects.filter(kind="send_email", outcome="sent")
    assert sent.count() == 5  # one per contact, across both journeys
    assert StepRun.objects.filter(kind="send_email", outcome="capped").count() == 5


@pytest.mark.django_db(transaction=True)
def test_two_workers_inside_batches_at_the_same_time_advance_each_contact_once(
    segment_everyone, email_template, pool
):
    """Each batch waits in a step until the other worker's batch arrives, so both workers hold a batch at
    once (PostgreSQL: each skips the rows the other has locked). Both do work, and every contact gets one
    code, one message and one run of each step: none twice, none lost."""
    from journeys.steps import registry

    registry[_Meet.kind] = _Meet()
    try:
        journey = journey_build(
            "Together",
            {
                "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
                "meet": (_Meet.kind, {}),
                "coupon": ("assign_coupon", {"pool_id": pool.pk}),
                "mail": ("send_email", {"template_id": email_template.pk}),
            },
            [("entry", "next", "meet"), ("meet", "next", "coupon"), ("coupon", "next", "mail")],
            now=T0,
        )
        contacts_make(40)
        journey_enter(journey=journey, now=T0)
        reports, errors = {}, []

        def worker(name):
            try:
                reports[name] = journeys_tick(now=T0, batch_size=10, deliver="now", max_seconds=None)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        registry.pop(_Meet.kind)
    assert errors == []
    assert reports["a"].claimed > 0 and reports["b"].claimed > 0  # both workers advanced contacts
    assert reports["a"].claimed + reports["b"].claimed == 40  # and no contact twice
    assert reports["a"].conflicts == reports["b"].conflicts == 0
    assert Enrollment.objects.filter(state="completed").count() == 40
    for kind in ("entry", _Meet.kind, "assign_coupon", "send_email"):
        assert StepRun.objects.filter(kind=kind).values("enrollment").distinct().count() == 40
        assert StepRun.objects.filter(kind=kind).count() == 40
    recipients = [m.to[0] for m in mail.outbox]
    assert len(recipients) == 40 and len(set(recipients)) == 40
    codes = list(Enrollment.objects.values_list("data__coupon__code", flat=True))
    assert len(set(codes)) == 40
    from coupons.models import Coupon

    assert Coupon.objects.filter(pool=pool, contact__isnull=False).count() == 40
