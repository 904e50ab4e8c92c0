"""Publishing freezes versions; contacts in flight stay on theirs unless migrated; beat rows follow."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count
from django_celery_beat.models import PeriodicTask

from journeys.models import Edge, Enrollment, Journey, Step
from journeys.services import (
    journey_archive,
    journey_enter,
    journey_migrate,
    journey_pause,
    journey_publish,
    journey_resume,
    journeys_tick,
)
from tests.journeys.conftest import T0, contacts_make, journey_build

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def journey(segment_everyone):
    return journey_build(
        "Versions",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 6, "period": "hours"}),
            "wait": ("wait", {"days": 3}),
            "tag": ("update_contact", {"action": "add_tag", "tag": "v1"}),
        },
        [("entry", "next", "wait"), ("wait", "next", "tag")],
        now=T0,
    )


def test_publish_freezes_a_copy_and_edits_to_the_draft_do_not_touch_contacts_in_flight(journey):
    contacts_make(2)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    v1 = journey.current_version
    # The marketer edits the live journey: the draft's tag step now adds "v2", and publishes.
    Step.objects.filter(journey=journey, version=None, name="tag").update(
        config={"action": "add_tag", "tag": "v2"}
    )
    v2 = journey_publish(journey=journey, now=T0 + DAY)
    assert v2.number == 2 and Step.objects.filter(version=v2).count() == 3
    assert Edge.objects.filter(version=v2).count() == 2
    journeys_tick(now=T0 + 3 * DAY, deliver="", max_seconds=None)
    assert set(Enrollment.objects.values_list("version", "state")) == {(v1.pk, "completed")}
    from contacts.models import Contact

    assert set(Contact.objects.values_list("tags__name", flat=True)) == {"v1"}


def test_migrate_moves_contacts_explicitly_with_a_step_mapping(journey):
    contacts_make(3)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    v1 = journey.current_version
    Step.objects.filter(journey=journey, version=None, name="tag").update(
        config={"action": "add_tag", "tag": "v2"}
    )
    v2 = journey_publish(journey=journey, now=T0 + DAY)
    old_wait = Step.objects.get(version=v1, name="wait").pk
    new_tag = Step.objects.get(version=v2, name="tag").pk
    assert (
        journey_migrate(from_version=v1, to_version=v2, step_mapping={old_wait: new_tag}, now=T0 + DAY) == 3
    )
    journeys_tick(now=T0 + DAY, deliver="", max_seconds=None)
    from contacts.models import Contact

    assert set(Contact.objects.values_list("tags__name", flat=True)) == {"v2"}
    with pytest.raises(ValidationError):
        journey_migrate(from_version=v1, to_version=v2, step_mapping={new_tag: old_wait})


def test_publish_rejects_invalid_graphs(segment_everyone):
    journey = Journey.objects.create(name="Broken")
    Step.objects.create(journey=journey, kind="wait", name="w", config={"days": 0})
    with pytest.raises(ValidationError) as exc:
        journey_publish(journey=journey)
    text = " ".join(exc.value.messages)
    assert "exactly one entry" in text and "positive duration" in text
    entry = Step.objects.create(
        journey=journey, kind="entry", name="e", config={"segment_id": segment_everyone.pk, "every": 1}
    )
    split = Step.objects.create(
        journey=journey, kind="in_segment", name="s", config={"segment_id": segment_everyone.pk}
    )
    Step.objects.filter(name="w").update(config={"days": 1})
    Edge.objects.create(journey=journey, from_step=entry, branch="maybe", to_step=split)
    with pytest.raises(ValidationError) as exc:
        journey_publish(journey=journey)
    assert "no branch 'maybe'" in " ".join(exc.value.messages)
    Edge.objects.filter(branch="maybe").update(branch="yes")
    Step.objects.create(journey=journey, kind="engagement", name="o", config={"step_key": "nope"})
    with pytest.raises(ValidationError) as exc:
        journey_publish(journey=journey)
    assert "not the key of a message step" in " ".join(exc.value.messages)
    assert journey.versions.count() == 0


def test_entry_schedule_is_a_periodic_task_owned_by_the_journey(journey):
    task = PeriodicTask.objects.get(name=f"journey:{journey.pk}:entry")
    assert task.task == "journeys.tasks.journey_enter"
    assert json.loads(task.args) == [journey.pk]
    assert (task.interval.every, task.interval.period, task.enabled) == (6, "hours", True)
    journey_pause(journey=journey)
    assert PeriodicTask.objects.get(pk=task.pk).enabled is False
    journey_resume(journey=journey)
    assert PeriodicTask.objects.get(pk=task.pk).enabled is True
    Step.objects.filter(journey=journey, version=None, kind="entry").update(
        config={
            "segment_id": Step.objects.filter(kind="entry").first().config["segment_id"],
            "crontab": "0 9 * * 1",
        }
    )
    journey_publish(journey=journey)
    task.refresh_from_db()
    assert task.interval is None and (task.crontab.hour, task.crontab.day_of_week) == ("9", "1")
    journey_archive(journey=journey)
    assert not PeriodicTask.objects.filter(name=f"journey:{journey.pk}:entry").exists()


def test_archive_exits_contacts_in_flight(journey):
    contacts_make(2)
    journey_enter(journey=journey, now=T0)
    assert journey_archive(journey=journey) == 2
    assert set(Enrollment.objects.values_list("state", "exit_reason")) == {("exited", "journey archived")}
    with pytest.raises(ValidationError):
        journey_resume(journey=journey)


def test_deleting_a_journey_removes_its_schedule(admin_client, journey):
    assert PeriodicTask.objects.filter(name=f"journey:{journey.pk}:entry").exists()
    response = admin_client.post(f"/admin/journeys/journey/{journey.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Journey.objects.filter(pk=journey.pk).exists()
    assert not PeriodicTask.objects.filter(name=f"journey:{journey.pk}:entry").exists()


def test_migrate_refuses_a_mapping_that_omits_a_step_with_contacts_before_moving_anyone(segment_everyone):
    journey = journey_build(
        "Partial",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 6, "period": "hours"}),
            "split": (
                "ab_split",
                {"variants": [{"label": "A", "percent": 50}, {"label": "B", "percent": 50}]},
            ),
            "wait_a": ("wait", {"days": 1}),
            "wait_b": ("wait", {"days": 2}),
        },
        [("entry", "next", "split"), ("split", "A", "wait_a"), ("split", "B", "wait_b")],
        now=T0,
    )
    contacts_make(20)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    v1 = journey.current_version
    at = dict(Enrollment.objects.values_list("step__name").annotate(n=Count("id")))
    assert set(at) == {"wait_a", "wait_b"}
    v2 = journey_publish(journey=journey, now=T0 + DAY)
    old_a = Step.objects.get(version=v1, name="wait_a").pk
    new_a = Step.objects.get(version=v2, name="wait_a").pk
    with pytest.raises(ValidationError, match="wait_b"):
        journey_migrate(from_version=v1, to_version=v2, step_mapping={old_a: new_a}, now=T0 + DAY)
    assert set(Enrollment.objects.values_list("version", flat=True)) == {v1.pk}  # nobody moved
    # Mapping every occupied step moves everyone; unoccupied steps need no mapping.
    old_b = Step.objects.get(version=v1, name="wait_b").pk
    new_b = Step.objects.get(version=v2, name="wait_b").pk
    moved = journey_migrate(
        from_version=v1, to_version=v2, step_mapping={old_a: new_a, old_b: new_b}, now=T0 + DAY
    )
    assert moved == 20 and set(Enrollment.objects.values_list("version", flat=True)) == {v2.pk}


def test_migrate_rejects_malformed_mappings_with_a_validation_error(journey):
    v1 = journey.current_version
    v2 = journey_publish(journey=journey, now=T0 + DAY)
    with pytest.raises(ValidationError):
        journey_migrate(from_version=v1, to_version=v2, step_mapping={"abc": "1"})


def test_migrated_contacts_start_a_new_visit_so_their_history_never_collides(journey):
    contacts_make(2)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    v1 = journey.current_version
    v2 = journey_publish(journey=journey, now=T0 + DAY)
    before = dict(Enrollment.objects.values_list("id", "visit"))
    journey_migrate(
        from_version=v1,
        to_version=v2,
        step_mapping={
            Step.objects.get(version=v1, name="wait").pk: Step.objects.get(version=v2, name="wait").pk
        },
        now=T0 + DAY,
    )
    after = dict(Enrollment.objects.values_list("id", "visit"))
    assert all(after[i] == before[i] + 1 for i in before)
    journeys_tick(now=T0 + 4 * DAY, deliver="", max_seconds=None)
    assert set(Enrollment.objects.values_list("state", flat=True)) == {"completed"}


def test_deleting_journeys_from_the_changelist_still_works(admin_client, journey):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    response = admin_client.post(
        "/admin/journeys/journey/",
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [journey.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Journey.objects.filter(pk=journey.pk).exists()
