"""Score history: "was X on date D and is not now", transition matrices, the nightly job."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, Order
from contacts.services.forget import contacts_delete
from segments.models import ContactScore, ScoreChange, ScoringRun, Segment, SegmentSize
from segments.rules import rules_compile
from segments.selectors import transition_matrix
from segments.services import scoring_run_execute
from segments.services.scoring import scoring_nightly
from tests.segments.helpers import AS_OF, contact, orders

pytestmark = pytest.mark.django_db


def _run(as_of):
    return scoring_run_execute(run=ScoringRun.objects.create(), as_of=as_of)


def test_was_new_on_a_date_and_is_not_now_and_the_transition_matrix():
    newcomer = contact()
    orders(newcomer, (5, 20))
    steady = contact()
    orders(steady, (400, 50), (10, 60))
    _run(AS_OF)
    later = AS_OF + dt.timedelta(days=60)
    _run(later)
    assert ContactScore.objects.get(contact=newcomer).lifecycle_stage == "active"

    was_new_is_not = {
        "op": "and",
        "rules": [
            {
                "field": "score_on_date",
                "attribute": "stage",
                "operator": "eq",
                "value": "new",
                "date": "2026-06-02",
            },
            {"field": "lifecycle_stage", "operator": "ne", "value": "new"},
        ],
    }
    assert list(Contact.objects.filter(rules_compile(was_new_is_not, now=later))) == [newcomer]
    moved = {
        "field": "score_transition",
        "operator": "changed",
        "attribute": "stage",
        "from": "new",
        "to": "active",
        "period": {"between": ["2026-07-01", "2026-08-31"]},
    }
    assert list(Contact.objects.filter(rules_compile(moved, now=later))) == [newcomer]
    matrix = transition_matrix(field="stage", start=AS_OF, end=later + dt.timedelta(seconds=1))
    assert matrix == {("", "new"): 1, ("", "active"): 1, ("new", "active"): 1}


def test_nightly_scores_then_records_every_segment_size():
    Order.objects.create(
        external_id="recent",
        contact=contact(country="DE"),
        placed_at=timezone.now() - dt.timedelta(days=3),
        total=10,
    )
    contact(country="FR")
    germans = Segment.objects.create(name="DE", rules={"field": "country", "operator": "eq", "value": "DE"})
    active = Segment.objects.create(
        name="Active", rules={"field": "lifecycle_stage", "operator": "in", "value": ["new", "active"]}
    )
    broken = Segment.objects.create(name="Broken", rules={"field": "nope", "operator": "eq"})
    assert scoring_nightly() == "done"
    assert ScoringRun.objects.get().trigger == "schedule"
    assert SegmentSize.objects.get(segment=germans).size == 1
    assert SegmentSize.objects.get(segment=active).size == 1
    assert not SegmentSize.objects.filter(segment=broken).exists()
    germans.refresh_from_db()
    assert germans.size == 1 and germans.last_evaluated_at is not None


def test_beat_schedule_is_merged():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["segments-scoring-nightly"]
    assert entry["task"] == "segments.scoring_nightly"
    from segments import tasks

    assert tasks.scoring_nightly_task.name == "segments.scoring_nightly"


def test_scoring_task_runs_the_service():
    from segments.tasks import scoring_run_task

    orders(contact(), (3, 10))
    run = ScoringRun.objects.create()
    assert scoring_run_task(run.pk) == "done"
    assert scoring_run_task(987654) == "missing"


def _history_of(person) -> int:
    return ScoreChange.objects.filter(contact_id=person.pk).count()


def test_erasure_deletes_the_persons_score_history():
    gone, kept = contact(), contact()
    orders(gone, (5, 20))
    orders(kept, (50, 30))
    _run(AS_OF)
    assert _history_of(gone) and _history_of(kept)
    assert contacts_delete(contact_ids=[gone.pk], source="admin") == 1
    assert _history_of(gone) == 0
    assert _history_of(kept)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database-level cascade is a PG trigger")
def test_a_delete_outside_django_deletes_the_score_history_too():
    gone, kept = contact(), contact()
    orders(gone, (5, 20))
    orders(kept, (50, 30))
    _run(AS_OF)
    with connection.cursor() as cursor:  # no Django collector: orders, events etc. first, as a script would
        for table in ("contacts_order", "segments_contactscore"):
            cursor.execute(f"DELETE FROM {table} WHERE contact_id = %s", [gone.pk])
        cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [gone.pk])
    assert _history_of(gone) == 0
    assert _history_of(kept)
