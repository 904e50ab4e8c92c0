"""The tick in-process, with a controlled `now`: entry -> wait -> condition -> coupon -> email."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import IntegrityError
from django.utils import timezone

from contacts.models import Contact, Order
from journeys.models import Enrollment, StepRun
from journeys.services import journey_enter, journey_pause, journey_resume, journeys_tick
from journeys.services.engine import batch_advance, enrollments_claim
from tests.journeys.conftest import T0, contacts_make, journey_build, version_step

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def tick(now):
    return journeys_tick(now=now, deliver="now", max_seconds=None)


@pytest.fixture
def winback(segment_everyone, email_template, pool):
    return journey_build(
        "Winback",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 2}),
            "bought": ("has_purchased", {"more_than": 0, "since_entry": True}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "email": ("send_email", {"template_id": email_template.pk}),
            "done": ("end", {}),
        },
        [
            ("entry", "next", "wait"),
            ("wait", "next", "bought"),
            ("bought", "yes", "done"),
            ("bought", "no", "coupon"),
            ("coupon", "next", "email"),
        ],
        now=T0,
    )


def test_contacts_walk_entry_wait_condition_coupon_email_once(winback):
    contacts = contacts_make(5)
    assert journey_enter(journey=winback, now=T0) == 5
    tick(T0)
    assert set(Enrollment.objects.values_list("state", flat=True)) == {"waiting"}
    assert set(Enrollment.objects.values_list("step__name", flat=True)) == {"wait"}

    tick(T0 + DAY)  # still waiting
    assert StepRun.objects.filter(kind="wait").count() == 0
    Order.objects.create(
        external_id="o1", contact=contacts[0], placed_at=T0 + DAY, total=20, status=Order.Status.PAID
    )

    tick(T0 + 2 * DAY)
    buyer = Enrollment.objects.get(contact=contacts[0])
    assert (buyer.state, buyer.exit_reason) == ("completed", "end")
    assert len(mail.outbox) == 4
    assert {m.to[0] for m in mail.outbox} == {c.email for c in contacts[1:]}
    codes = set(Enrollment.objects.exclude(contact=contacts[0]).values_list("data__coupon__code", flat=True))
    assert len(codes) == 4 and all(code in "".join(m.body for m in mail.outbox) for code in codes)
    assert Enrollment.objects.filter(state="completed").count() == 5

    # Ticking again (a retried task) changes nothing and sends nothing.
    runs = StepRun.objects.count()
    tick(T0 + 3 * DAY)
    assert StepRun.objects.count() == runs
    assert len(mail.outbox) == 4


def test_each_step_runs_once_per_visit_in_the_history(winback):
    contacts_make(3)
    journey_enter(journey=winback, now=T0)
    tick(T0)
    tick(T0 + 2 * DAY)
    enrollment = Enrollment.objects.first()
    kinds = list(StepRun.objects.filter(enrollment=enrollment).values_list("kind", "visit", "branch"))
    assert kinds == [
        ("entry", 0, "next"),
        ("wait", 1, "next"),
        ("has_purchased", 2, "no"),
        ("assign_coupon", 3, "next"),
        ("send_email", 4, "next"),
    ]


def test_claimed_contacts_are_not_taken_by_a_second_worker_until_the_lease_expires(winback):
    contacts_make(4)
    journey_enter(journey=winback, now=T0)
    assert enrollments_claim(now=T0, token="worker-a", limit=100) == 4
    # A second worker at the same moment finds nothing to do.
    assert tick(T0).claimed == 0
    # Worker A crashed; after the lease the contacts are picked up again and advanced once.
    report = tick(T0 + dt.timedelta(minutes=10))
    assert report.claimed == 4
    assert StepRun.objects.filter(kind="entry").count() == 4
    # Worker A comes back to life: its claim is gone, it advances nobody.
    report, message_ids = batch_advance(token="worker-a", now=T0 + dt.timedelta(minutes=11))
    assert report.claimed == 0 and message_ids == []


def test_a_step_already_run_by_another_worker_rolls_the_whole_batch_back(winback, email_template):
    contacts_make(3)
    journey_enter(journey=winback, now=T0)
    tick(T0)
    tick(T0 + 2 * DAY - dt.timedelta(seconds=1))
    # Put everyone at the email step, then pretend another worker already ran it for one contact.
    email = version_step(winback, "email")
    Enrollment.objects.update(step=email, state="active", due_at=T0, visit=9)
    first = Enrollment.objects.order_by("id").first()
    StepRun.objects.create(
        enrollment=first,
        step=email,
        visit=9,
        contact_id=first.contact_id,
        journey_id=winback.pk,
        kind="send_email",
    )
    assert enrollments_claim(now=T0 + 2 * DAY, token="w", limit=100) == 3
    with pytest.raises(IntegrityError):
        batch_advance(token="w", now=T0 + 2 * DAY)
    from messaging.models import Message

    assert Message.objects.count() == 0  # the queued messages rolled back with the batch
    assert len(mail.outbox) == 0


def test_tick_query_count_does_not_grow_with_batch_size(
    segment_everyone, email_template, pool, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    journey = journey_build(
        "Budget",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "email": ("send_email", {"template_id": email_template.pk}),
            "wait": ("wait", {"days": 1}),
        },
        [("entry", "next", "coupon"), ("coupon", "next", "email"), ("email", "next", "wait")],
        now=T0,
    )
    contacts_make(3, prefix="small")
    journey_enter(journey=journey, now=T0)
    with CaptureQueriesContext(connection) as small:
        journeys_tick(now=T0, deliver="", max_seconds=None)
    assert StepRun.objects.filter(kind="send_email").count() == 3

    contacts_make(40, prefix="big")
    journey_enter(journey=journey, now=T0 + DAY * 2)
    Enrollment.objects.filter(state="waiting").update(due_at=T0 + DAY * 5)  # keep the first ones out
    with django_assert_num_queries(len(small.captured_queries)):
        journeys_tick(now=T0 + DAY * 2, deliver="", max_seconds=None)
    assert StepRun.objects.filter(kind="send_email").count() == 43


def test_paused_journey_holds_contacts_and_resume_continues(winback):
    contacts_make(2)
    journey_enter(journey=winback, now=T0)
    tick(T0)
    journey_pause(journey=winback)
    tick(T0 + 3 * DAY)
    assert set(Enrollment.objects.values_list("step__name", flat=True)) == {"wait"}
    assert len(mail.outbox) == 0
    assert journey_enter(journey=winback, now=T0 + 3 * DAY) == 0  # no entry while paused
    journey_resume(journey=winback)
    tick(T0 + 3 * DAY)
    assert len(mail.outbox) == 2


def test_unsubscribe_mid_journey_stops_every_later_message(segment_everyone, email_template):
    from messaging.models import MessageTemplate

    sms = MessageTemplate.objects.create(name="SMS", channel="sms", sms_text="Hi {{ contact.first_name }}")
    journey = journey_build(
        "Two mails",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "first": ("send_email", {"template_id": email_template.pk}),
            "wait": ("wait", {"days": 1}),
            "second": ("send_email", {"template_id": email_template.pk}),
            "third": ("send_sms", {"template_id": sms.pk}),
        },
        [
            ("entry", "next", "first"),
            ("first", "next", "wait"),
            ("wait", "next", "second"),
            ("second", "next", "third"),
        ],
        now=T0,
    )
    stay, leave = contacts_make(2)
    journey_enter(journey=journey, now=T0)
    tick(T0)
    assert len(mail.outbox) == 2
    Contact.objects.filter(pk=leave.pk).update(status=Contact.Status.UNSUBSCRIBED, email_consent=False)
    tick(T0 + DAY)
    assert [m.to[0] for m in mail.outbox[2:]] == [stay.email]
    outcomes = dict(
        StepRun.objects.filter(enrollment__contact=leave, step__name="second").values_list("kind", "outcome")
    )
    assert outcomes == {"send_email": "suppressed"}
    assert StepRun.objects.get(enrollment__contact=leave, step__name="third").outcome == "suppressed"


def test_quiet_hours_postpone_to_their_end_in_the_contacts_time_zone(segment_everyone, email_template):
    journey = journey_build(
        "Quiet",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "mail": ("send_email", {"template_id": email_template.pk}),
        },
        [("entry", "next", "mail")],
        quiet_hours_start=dt.time(21, 0),
        quiet_hours_end=dt.time(8, 0),
        now=T0,
    )
    (berlin,) = contacts_make(1, timezone="Europe/Berlin")
    night = dt.datetime(2026, 3, 2, 22, 30, tzinfo=dt.UTC)  # 23:30 in Berlin
    journey_enter(journey=journey, now=night)
    tick(night)
    assert len(mail.outbox) == 0
    enrollment = Enrollment.objects.get()
    morning = dt.datetime(2026, 3, 3, 7, 0, tzinfo=dt.UTC)  # 08:00 in Berlin
    assert (enrollment.state, enrollment.due_at) == ("waiting", morning)
    assert "quiet hours" in enrollment.wait_reason
    tick(morning - dt.timedelta(minutes=1))
    assert len(mail.outbox) == 0
    tick(morning)
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("action", ["postpone", "skip"])
def test_frequency_cap_across_journeys(segment_everyone, email_template, action):
    steps = {
        "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
        "mail": ("send_email", {"template_id": email_template.pk}),
    }
    cap = {"frequency_cap_messages": 1, "frequency_cap_days": 7, "frequency_cap_action": action}
    first = journey_build("First", steps, [("entry", "next", "mail")], now=T0, **cap)
    contacts_make(1)
    journey_enter(journey=first, now=T0)
    tick(T0)
    assert len(mail.outbox) == 1
    second = journey_build("Second", steps, [("entry", "next", "mail")], now=T0, **cap)
    journey_enter(journey=second, now=T0 + DAY)
    tick(T0 + DAY)
    assert len(mail.outbox) == 1
    enrollment = Enrollment.objects.get(journey=second)
    if action == "skip":
        assert enrollment.state == "completed"
        assert StepRun.objects.get(enrollment=enrollment, kind="send_email").outcome == "capped"
    else:
        assert enrollment.state == "waiting" and enrollment.due_at == T0 + 7 * DAY
        tick(T0 + 7 * DAY)
        assert len(mail.outbox) == 2


def test_holdout_contacts_walk_the_journey_but_get_no_message_or_code(segment_everyone, email_template, pool):
    journey = journey_build(
        "Holdout",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "mail": ("send_email", {"template_id": email_template.pk}),
        },
        [("entry", "next", "coupon"), ("coupon", "next", "mail")],
        holdout_percent=100,
        now=T0,
    )
    contacts_make(3)
    journey_enter(journey=journey, now=T0)
    tick(T0)
    assert len(mail.outbox) == 0
    assert set(StepRun.objects.filter(kind="send_email").values_list("outcome", flat=True)) == {"holdout"}
    assert Enrollment.objects.filter(holdout=True, state="completed").count() == 3


def test_holdout_in_sql_matches_the_python_bucket(segment_everyone):
    from journeys.services import holdout_bucket

    journey = journey_build(
        "Half",
        {"entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"})},
        [],
        holdout_percent=50,
        now=T0,
    )
    contacts_make(60)
    journey_enter(journey=journey, now=T0)
    rows = list(Enrollment.objects.values_list("contact_id", "holdout"))
    assert all(holdout == (holdout_bucket(journey_id=journey.pk, contact_id=c) < 50) for c, holdout in rows)
    assert 10 < sum(h for _c, h in rows) < 50


def test_tick_started_by_a_clock_uses_real_time(segment_everyone):
    journey = journey_build(
        "Now",
        {"entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"})},
        [],
    )
    contacts_make(2)
    journey_enter(journey=journey)
    journeys_tick(deliver="")
    assert Enrollment.objects.filter(state="completed", exited_at__lte=timezone.now()).count() == 2


def _kind_steps(kind, *, segment, email_template, pool):
    """One step of `kind` after the entry (and what it needs before it)."""
    from journeys.models import AudienceExport, Survey, SurveyQuestion
    from messaging.models import MessageTemplate

    if kind.startswith("send_sms"):
        template = MessageTemplate.objects.create(name="T sms", channel="sms", sms_text="Hi")
        return {"x": ("send_sms", {"template_id": template.pk})}
    if kind == "send_push":
        template = MessageTemplate.objects.create(
            name="T push", channel="push", push_title="Hi", push_body="x"
        )
        return {"x": ("send_push", {"template_id": template.pk})}
    if kind == "survey":
        survey = Survey.objects.create(title="S")
        SurveyQuestion.objects.create(survey=survey, text="Why?", attribute="why")
        return {"x": ("survey", {"template_id": email_template.pk, "survey_id": survey.pk})}
    if kind in ("add_tag", "remove_tag"):
        from contacts.models import Tag

        Tag.objects.create(name="t")  # created once, not part of what a batch costs
    if kind == "audience_add":
        return {"x": ("audience_add", {"export_id": AudienceExport.objects.create(name="A").pk})}
    configs = {
        "wait": ("wait", {"seconds": 0, "minutes": 1}),
        "wait_weekday": ("wait", {"mode": "weekday_time", "weekday": "monday", "time": "09:00"}),
        "wait_date": ("wait", {"mode": "date", "at": "2026-01-01T00:00:00+00:00"}),
        "in_segment": ("in_segment", {"segment_id": segment.pk}),
        "has_purchased": ("has_purchased", {"more_than": 0, "days": 30}),
        "has_purchased_since_entry": ("has_purchased", {"more_than": 0, "since_entry": True}),
        "attribute_split": ("attribute_split", {"field": "attributes.tier", "values": ["gold"]}),
        "ab_split": (
            "ab_split",
            {"variants": [{"label": "A", "percent": 50}, {"label": "B", "percent": 50}]},
        ),
        "assign_coupon": ("assign_coupon", {"pool_id": pool.pk}),
        "send_email": ("send_email", {"template_id": email_template.pk}),
        "set_attribute": ("update_contact", {"action": "set_attribute", "attribute": "seen", "value": 1}),
        "add_tag": ("update_contact", {"action": "add_tag", "tag": "t"}),
        "remove_tag": ("update_contact", {"action": "remove_tag", "tag": "t"}),
        "set_consent": ("update_contact", {"action": "set_consent", "channel": "sms", "value": False}),
        "anonymize": ("contact_data", {"mode": "anonymize"}),
        "delete": ("contact_data", {"mode": "delete"}),
        "end": ("end", {}),
    }
    if kind == "engagement":
        return {
            "mail": ("send_email", {"template_id": email_template.pk}),
            "x": ("engagement", {"step_key": "mailkey", "event": "opened"}),
        }
    return {"x": configs[kind]}


KINDS = [
    "wait",
    "wait_weekday",
    "wait_date",
    "in_segment",
    "has_purchased",
    "has_purchased_since_entry",
    "engagement",
    "attribute_split",
    "ab_split",
    "assign_coupon",
    "send_email",
    "send_sms",
    "send_push",
    "survey",
    "set_attribute",
    "add_tag",
    "remove_tag",
    "set_consent",
    "anonymize",
    "delete",
    "audience_add",
    "end",
]


@pytest.mark.parametrize("kind", KINDS)
def test_tick_query_count_does_not_grow_with_batch_size_for_each_step_kind(
    kind, segment_everyone, email_template, pool
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from journeys.models import Step
    from journeys.services import journey_publish
    from journeys.steps import registry

    steps = _kind_steps(kind, segment=segment_everyone, email_template=email_template, pool=pool)
    names = ["entry", *steps]
    journey = journey_build(
        f"Kind {kind}",
        {"entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}), **steps},
        [(a, "next", b) for a, b in zip(names, names[1:], strict=False)],
        publish=False,
    )
    Step.objects.filter(journey=journey, name="mail").update(key="mailkey")
    journey_publish(journey=journey, now=T0)
    used = {s.kind for s in Step.objects.filter(version=journey.versions.get())}
    assert used <= set(registry)
    from django.contrib.contenttypes.models import ContentType

    from contacts.models import Contact

    ContentType.objects.get_for_model(Contact)  # cached for the process: not part of what a batch costs

    def batch(prefix, n, now):
        contacts_make(n, prefix=prefix, attributes={"tier": "gold"})
        journey_enter(journey=journey, now=now)
        with CaptureQueriesContext(connection) as queries:
            journeys_tick(now=now, deliver="", max_seconds=None)
        return len(queries.captured_queries)

    small = batch("small", 3, T0)
    Enrollment.objects.filter(state__in=Enrollment.IN_FLIGHT).update(due_at=T0 + DAY * 30)
    # 40: within SQLite's parameter limit for messaging's bulk insert and the 50 codes of the pool.
    big = batch("big", 40, T0 + DAY)
    assert StepRun.objects.filter(step__name="x").count() in (43, 0)  # waits may still be waiting
    assert big == small, f"{kind}: {small} queries for 3 contacts, {big} for 40"


def test_a_batch_conflict_rolls_back_and_the_tick_goes_on_without_a_retry_loop(winback, email_template):
    contacts_make(3)
    journey_enter(journey=winback, now=T0)
    tick(T0)
    email = version_step(winback, "email")
    Enrollment.objects.update(step=email, state="active", due_at=T0, visit=9)
    first = Enrollment.objects.order_by("id").first()
    StepRun.objects.create(
        enrollment=first,
        step=email,
        visit=9,
        contact_id=first.contact_id,
        journey_id=winback.pk,
        kind="send_email",
    )
    report = tick(T0 + DAY)  # must not raise, nor re-claim the same contacts ten times
    assert report.conflicts == 1
    first.refresh_from_db()
    assert (first.state, first.exit_reason, first.claimed_by) == ("failed", "step already ran", "")
    assert StepRun.objects.filter(enrollment=first, step=email).count() == 1  # never run twice
    others = Enrollment.objects.exclude(pk=first.pk)
    assert set(others.values_list("state", flat=True)) == {"completed"}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(others.values_list("contact__email", flat=True))
    assert tick(T0 + 2 * DAY).conflicts == 0


def test_resume_after_a_long_pause_respects_quiet_hours_and_the_cap(segment_everyone, email_template):
    journey = journey_build(
        "Paused",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 1}),
            "mail1": ("send_email", {"template_id": email_template.pk}),
            "mail2": ("send_email", {"template_id": email_template.pk}),
        },
        [("entry", "next", "wait"), ("wait", "next", "mail1"), ("mail1", "next", "mail2")],
        now=T0,
        quiet_hours_start=dt.time(22, 0),
        quiet_hours_end=dt.time(8, 0),
        frequency_cap_messages=1,
        frequency_cap_days=1,
    )
    contacts_make(3)  # time zone UTC
    journey_enter(journey=journey, now=T0)
    tick(T0)
    journey_pause(journey=journey)
    for day in range(1, 5):  # the wait expires while paused: nobody moves, however often beat ticks
        assert tick(T0 + day * DAY).claimed == 0
    assert not StepRun.objects.filter(kind="wait").exists()
    journey_resume(journey=journey)
    night = T0.replace(hour=23) + 5 * DAY
    tick(night)
    assert len(mail.outbox) == 0  # quiet hours
    assert set(Enrollment.objects.values_list("step__name", "due_at")) == {
        ("mail1", (night + DAY).replace(hour=8))
    }
    morning = (night + DAY).replace(hour=8)
    tick(morning)
    assert len(mail.outbox) == 3  # one each; the second waits for the cap
    assert set(Enrollment.objects.values_list("step__name", flat=True)) == {"mail2"}
    tick(morning + dt.timedelta(hours=12))
    assert len(mail.outbox) == 3
    tick(morning + DAY)
    assert len(mail.outbox) == 6 and set(Enrollment.objects.values_list("state", flat=True)) == {"completed"}


# Statements for one batch of tick 2 (wait -> condition -> coupon -> queue email), counted with the
# savepoints the test transaction adds, plus the stats rollup. PostgreSQL: take the batch (1), its
# journeys (1), the graph (2, once per tick), a savepoint pair per step (8), the purchase count (1), the
# coupon service (12), the contacts (1), the template (1), the messages (2), the history (1), the
# enrollments (1), the batch's own savepoint (2) and the rollup (5): 39 (the code before: 44, with a
# separate claim and a last empty look). SQLite claims with a lease first (the claim UPDATE).
TICK_QUERIES = {"postgresql": 39, "sqlite": 42}


def test_one_batch_of_the_winback_tick_stays_within_its_query_budget(
    segment_everyone, email_template, pool, django_assert_max_num_queries
):
    from django.db import connection

    journey = journey_build(
        "Bench shape",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 1}),
            "bought": ("has_purchased", {"more_than": 0, "days": 30}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "email": ("send_email", {"template_id": email_template.pk}),
        },
        [
            ("entry", "next", "wait"),
            ("wait", "next", "bought"),
            ("bought", "no", "coupon"),
            ("coupon", "next", "email"),
        ],
        now=T0,
    )
    contacts_make(30)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    with django_assert_max_num_queries(TICK_QUERIES[connection.vendor]):
        report = journeys_tick(now=T0 + DAY, deliver="", max_seconds=None)
    assert (report.batches, report.claimed, report.messages) == (1, 30, 30)
    assert StepRun.objects.filter(kind="send_email", outcome="sent").count() == 30
