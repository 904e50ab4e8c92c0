"""Faults in the PostgreSQL tick (batches locked with SKIP LOCKED, no lease written):

- a batch that fails outside its steps' own error handling must not be taken again first at every tick
  and stall every other contact: its enrollments are advanced one by one, the bad one pushed back;
- an erasure while a batch holds the person's enrollment must not wait for it (it holds the contact row
  the batch may be about to write: a deadlock).
"""

import contextlib
import datetime as dt
import threading

import pytest
from django.db import connection

from contacts.models import Contact
from journeys.models import Enrollment, StepRun
from journeys.services import journey_enter, journeys_tick
from tests.journeys.conftest import T0, contacts_make, journey_build, segment_everyone  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_failing_batch_does_not_stall_every_other_contact(segment_everyone, monkeypatch):  # noqa: F811
    journey = journey_build(
        "Erasure",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "split": ("attribute_split", {"field": "attributes.forget", "values": ["yes"]}),
            "forget": ("contact_data", {"mode": "delete"}),
        },
        [("entry", "next", "split"), ("split", "yes", "forget")],
        now=T0,
    )
    poison = contacts_make(1, prefix="p", attributes={"forget": "yes"})[0]
    contacts_make(30, prefix="c")
    journey_enter(journey=journey, now=T0)
    # The contact to forget is the first due (the rest right after it).
    Enrollment.objects.filter(contact=poison).update(due_at=T0 - dt.timedelta(seconds=1))

    def unavailable(*, emails):
        raise OSError("import file storage unavailable")

    monkeypatch.setattr("contacts.services.forget.import_files_forget", unavailable)
    for minute in range(3):  # three ticks, as beat would run them
        with contextlib.suppress(OSError):
            journeys_tick(now=T0 + dt.timedelta(minutes=minute), batch_size=10, deliver="", max_seconds=None)
    advanced = StepRun.objects.filter(kind="entry").exclude(contact_id=poison.pk).count()
    assert advanced >= 20, f"only {advanced} of 30 other contacts advanced: the tick is stuck on one batch"
    if connection.vendor == "postgresql":
        # The contact that fails alone is pushed back and counts an error (SQLite: its batch keeps its lease).
        poisoned = Enrollment.objects.get(contact=poison)
        assert poisoned.state == "active" and poisoned.data["_errors"] >= 1 and poisoned.due_at > T0


class _Hold:
    kind = "test_hold"
    label = "Hold (tests)"
    is_message = False

    def __init__(self):
        self.inside, self.go = threading.Event(), threading.Event()

    def branches(self, config):
        return ["next"]

    def validate(self, config):
        return dict(config or {})

    def describe(self, config):
        return ""

    def run(self, *, step, enrollments, ctx):
        from journeys.steps import StepResult

        self.inside.set()
        self.go.wait(10)
        return {e.id: StepResult("next") for e in enrollments}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks")
def test_erasure_during_a_batch_that_updates_the_contact_does_not_deadlock(segment_everyone):  # noqa: F811
    from contacts.services.forget import contacts_anonymize
    from journeys.steps import registry

    hold = _Hold()
    registry[_Hold.kind] = hold
    errors = []
    try:
        journey = journey_build(
            "Tag then wait",
            {
                "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
                "hold": (_Hold.kind, {}),
                "tag": ("update_contact", {"action": "set_attribute", "attribute": "seen", "value": 1}),
                "wait": ("wait", {"days": 1}),
            },
            [("entry", "next", "hold"), ("hold", "next", "tag"), ("tag", "next", "wait")],
            now=T0,
        )
        contact = contacts_make(1)[0]
        journey_enter(journey=journey, now=T0)

        def run(target):
            try:
                target()
            except Exception as exc:
                errors.append(exc)
            finally:
                connection.close()

        tick = threading.Thread(
            target=run, args=(lambda: journeys_tick(now=T0, deliver="", max_seconds=None),)
        )
        erase = threading.Thread(
            target=run, args=(lambda: contacts_anonymize(contact_ids=[contact.pk], source="admin"),)
        )
        tick.start()
        assert hold.inside.wait(10)
        erase.start()  # anonymizes the contact row, then waits for the batch's lock on the enrollment
        erase.join(1.5)
        hold.go.set()  # the batch goes on to write the same contact row
        tick.join(30)
        erase.join(30)
    finally:
        registry.pop(_Hold.kind)
        with contextlib.suppress(Exception):
            hold.go.set()
    assert errors == [], errors  # the erasure died of a deadlock
    enrollment = Enrollment.objects.get(contact=contact)
    assert "_errors" not in enrollment.data, enrollment.wait_reason  # the batch's step died of a deadlock
    assert Contact.objects.get(pk=contact.pk).status == "anonymized"
