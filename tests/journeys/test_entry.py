"""Entry is set-based and never enrolls anyone twice."""

from __future__ import annotations

import datetime as dt

import pytest

from contacts.models import Contact, Order
from journeys.models import Enrollment, Journey
from journeys.services import journey_enter, journeys_tick
from journeys.services.conversions import conversions_record
from tests.journeys.conftest import T0, contacts_make, journey_build

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def entry_journey(segment, *, name="Entry", entry=None, steps=None, edges=None, **settings):
    config = {"segment_id": segment.pk, "every": 1, "period": "days", **(entry or {})}
    return journey_build(
        name,
        {"entry": ("entry", config), **(steps if steps is not None else {"wait": ("wait", {"days": 30})})},
        edges if edges is not None else [("entry", "next", "wait")],
        now=T0,
        **settings,
    )


def test_repeated_runs_never_enroll_twice(segment_everyone, django_assert_max_num_queries):
    journey = entry_journey(segment_everyone)
    contacts_make(30)
    with django_assert_max_num_queries(10):  # set-based: the number of queries does not depend on contacts
        assert journey_enter(journey=journey, now=T0) == 30
    assert journey_enter(journey=journey, now=T0 + DAY) == 0
    contacts_make(2, prefix="late")
    assert journey_enter(journey=journey, now=T0 + 2 * DAY) == 2
    assert Enrollment.objects.count() == 32


def test_reentry_after_n_days(segment_everyone):
    journey = entry_journey(
        segment_everyone, reentry=Journey.Reentry.AFTER_DAYS, reentry_days=10, steps={}, edges=[]
    )
    contacts_make(3)
    assert journey_enter(journey=journey, now=T0) == 3
    journeys_tick(now=T0, deliver="", max_seconds=None)  # everyone completes (entry has no next step)
    assert journey_enter(journey=journey, now=T0 + 5 * DAY) == 0
    assert journey_enter(journey=journey, now=T0 + 11 * DAY) == 3
    assert Enrollment.objects.count() == 6


def test_in_flight_contacts_are_not_entered_again_even_when_reentry_is_allowed(segment_everyone):
    journey = entry_journey(segment_everyone, reentry=Journey.Reentry.AFTER_DAYS, reentry_days=1)
    contacts_make(2)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)  # waiting 30 days
    assert journey_enter(journey=journey, now=T0 + 5 * DAY) == 0


def test_only_new_since_last_run(segment_everyone):
    from segments.models import Segment

    germans = Segment.objects.create(name="DE", rules={"field": "country", "operator": "eq", "value": "DE"})
    journey = entry_journey(
        germans, entry={"mode": "new"}, reentry=Journey.Reentry.AFTER_DAYS, reentry_days=0, steps={}, edges=[]
    )
    first = contacts_make(2, prefix="de", country="DE")
    assert journey_enter(journey=journey, now=T0) == 2
    journeys_tick(now=T0, deliver="", max_seconds=None)
    assert journey_enter(journey=journey, now=T0 + DAY) == 0  # still members: not new
    Contact.objects.filter(pk=first[0].pk).update(country="FR")
    journey_enter(journey=journey, now=T0 + 2 * DAY)
    Contact.objects.filter(pk=first[0].pk).update(country="DE")  # left and came back: new again
    assert journey_enter(journey=journey, now=T0 + 3 * DAY) == 1


def test_consent_filter_and_dates(segment_everyone):
    journey = entry_journey(
        segment_everyone,
        entry={"consent": "sms", "start_at": (T0 + DAY).isoformat(), "end_at": (T0 + 3 * DAY).isoformat()},
    )
    contacts_make(2, prefix="yes")
    contacts_make(2, prefix="no", sms_consent=False)
    assert journey_enter(journey=journey, now=T0) == 0  # before the start
    assert journey_enter(journey=journey, now=T0 + 2 * DAY) == 2
    assert set(Enrollment.objects.values_list("contact__email", flat=True)) == {
        "yes0@example.com",
        "yes1@example.com",
    }
    Contact.objects.filter(email__startswith="no").update(sms_consent=True)
    assert journey_enter(journey=journey, now=T0 + 4 * DAY) == 0  # after the end


def test_purchase_within_the_window_converts_and_exits(segment_everyone):
    from contacts.signals import orders_upserted

    journey = entry_journey(segment_everyone, conversion_window_days=7, holdout_percent=0)
    buyer, late, other = contacts_make(3)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    before = Order.objects.create(external_id="o0", contact=other, placed_at=T0 - DAY, total=5)
    o1 = Order.objects.create(external_id="o1", contact=buyer, placed_at=T0 + DAY, total=42)
    o2 = Order.objects.create(external_id="o2", contact=late, placed_at=T0 + 9 * DAY, total=9)
    orders_upserted.send(sender=None, order_ids=[before.pk, o1.pk, o2.pk])
    conversion = journey.conversions.get()
    assert (conversion.order_id, conversion.revenue, conversion.contact_id) == (o1.pk, 42, buyer.pk)
    exited = Enrollment.objects.get(contact=buyer)
    assert (exited.state, exited.exit_reason) == ("exited", "converted")
    assert Enrollment.objects.filter(state="waiting").count() == 2
    assert conversions_record(order_ids=[o1.pk]) == 0  # once per enrollment


def test_holdout_purchases_are_recorded_for_lift(segment_everyone):
    journey = entry_journey(segment_everyone, conversion_window_days=7, holdout_percent=100)
    (contact,) = contacts_make(1)
    journey_enter(journey=journey, now=T0)
    order = Order.objects.create(external_id="h1", contact=contact, placed_at=T0 + DAY, total=12)
    assert conversions_record(order_ids=[order.pk]) == 1
    assert journey.conversions.get().holdout is True


@pytest.mark.parametrize("broken", ["entry segment deleted", "referenced segment deleted"])
def test_entry_with_a_deleted_segment_fails_clearly_instead_of_crashing_beat(
    segment_everyone, broken, admin_client
):
    from journeys.models import EntryRun
    from journeys.tasks import journey_enter_task
    from segments.models import Segment

    inner = Segment.objects.create(name="Inner", rules={})
    outer = Segment.objects.create(
        name="Outer",
        rules={"op": "and", "rules": [{"field": "segment", "operator": "in", "value": inner.pk}]},
    )
    journey = entry_journey(outer)
    contacts_make(2)
    (outer if broken == "entry segment deleted" else inner).delete()
    for _ in range(2):  # every beat run: no exception, nobody enters, the reason is recorded
        assert journey_enter_task(journey.pk) == 0
    assert not Enrollment.objects.exists()
    run = EntryRun.objects.filter(journey=journey).first()
    assert run.entered == 0 and "segment" in run.error and "does not exist" in run.error
    page = admin_client.get(f"/admin/journeys/journey/{journey.pk}/change/").content.decode()
    assert "does not exist" in page


def test_an_order_refunded_after_it_converted_no_longer_counts(segment_everyone):
    from contacts.signals import orders_upserted

    journey = entry_journey(segment_everyone, conversion_window_days=7)
    (buyer,) = contacts_make(1)
    journey_enter(journey=journey, now=T0)
    order = Order.objects.create(external_id="r1", contact=buyer, placed_at=T0 + DAY, total=42)
    orders_upserted.send(sender=None, order_ids=[order.pk])
    assert journey.conversions.count() == 1
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REFUNDED)  # re-imported as refunded
    orders_upserted.send(sender=None, order_ids=[order.pk])
    assert journey.conversions.count() == 0
    # A later real purchase within the window converts instead.
    again = Order.objects.create(external_id="r2", contact=buyer, placed_at=T0 + 2 * DAY, total=7)
    orders_upserted.send(sender=None, order_ids=[again.pk])
    assert list(journey.conversions.values_list("order_id", "revenue")) == [(again.pk, 7)]


def test_one_order_converts_once_per_journey_even_with_overlapping_reentries(segment_everyone):
    from contacts.signals import orders_upserted

    journey = entry_journey(
        segment_everyone,
        conversion_window_days=30,
        reentry=Journey.Reentry.AFTER_DAYS,
        reentry_days=3,
        steps={},
        edges=[],
    )
    (buyer,) = contacts_make(1)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)  # completes at once (no steps)
    journey_enter(journey=journey, now=T0 + 5 * DAY)  # enters again; both windows are open
    assert Enrollment.objects.count() == 2
    order = Order.objects.create(external_id="x1", contact=buyer, placed_at=T0 + 6 * DAY, total=50)
    orders_upserted.send(sender=None, order_ids=[order.pk])
    orders_upserted.send(sender=None, order_ids=[order.pk])  # re-imported
    conversion = journey.conversions.get()  # revenue counted once, for the latest entry before the order
    assert conversion.enrollment.entered_at == T0 + 5 * DAY


def test_entry_dates_without_an_offset_are_read_in_the_site_time_zone(segment_everyone, settings):
    from journeys.steps import registry

    settings.TIME_ZONE = "Europe/Berlin"
    cleaned = registry["entry"].validate(
        {"segment_id": segment_everyone.pk, "every": 1, "start_at": "2026-03-03T09:00:00"}
    )
    assert cleaned["start_at"] == "2026-03-03T09:00:00+01:00"
    journey = entry_journey(segment_everyone, entry={"start_at": "2026-03-03T09:00:00"})
    contacts_make(1)
    assert journey_enter(journey=journey, now=dt.datetime(2026, 3, 3, 7, 59, tzinfo=dt.UTC)) == 0
    assert journey_enter(journey=journey, now=dt.datetime(2026, 3, 3, 8, 1, tzinfo=dt.UTC)) == 1
    # A version published before offsets were added: read in the site's zone, no TypeError.
    from journeys.models import Step

    Step.objects.filter(version=journey.current_version, kind="entry").update(
        config={
            "segment_id": segment_everyone.pk,
            "every": 1,
            "period": "days",
            "end_at": "2026-03-04T09:00:00",
        }
    )
    contacts_make(1, prefix="late")
    assert journey_enter(journey=journey, now=dt.datetime(2026, 3, 4, 7, 59, tzinfo=dt.UTC)) == 1
    contacts_make(1, prefix="later")
    assert journey_enter(journey=journey, now=dt.datetime(2026, 3, 4, 8, 1, tzinfo=dt.UTC)) == 0


def test_published_versions_cannot_be_deleted_in_the_admin(segment_everyone, admin_client):
    journey = entry_journey(segment_everyone)
    contacts_make(1)
    journey_enter(journey=journey, now=T0)
    version = journey.current_version
    response = admin_client.post(f"/admin/journeys/journeyversion/{version.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Enrollment.objects.filter(version=version).count() == 1
