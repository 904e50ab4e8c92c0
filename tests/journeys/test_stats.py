"""The journey list and page read per-journey counts from the JourneyStat rollup, not from enrollments:
their query counts do not grow with enrollments, and the rollup agrees with the live report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test.utils import CaptureQueriesContext

from journeys.models import Enrollment, JourneyStat
from journeys.selectors import journey_report, journey_stats
from journeys.services import journey_enter, journeys_tick
from journeys.services.stats import journey_stats_refresh
from tests.journeys.conftest import T0, contacts_make, journey_build

DAY = dt.timedelta(days=1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(segment_everyone):
    return journey_build(
        "Counted",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 2}),
        },
        [("entry", "next", "wait")],
        holdout_percent=20,
        now=T0,
    )


def _live(journey) -> dict:
    report = journey_report(journey=journey)
    groups = [{k: g[k] for k in ("variant", "holdout", "n", "converted")} for g in report["groups"]]
    return {"states": report["states"], "groups": sorted(groups, key=lambda g: (g["holdout"], g["variant"]))}


def test_a_tick_refreshes_the_rollup_of_the_journeys_it_moved(journey):
    contacts_make(25)
    journey_enter(journey=journey, now=T0)
    assert journey_stats(journey=journey)["refreshed_at"] is None  # not counted yet
    journeys_tick(now=T0, deliver="", max_seconds=None)
    stats = journey_stats(journey=journey)
    assert stats["refreshed_at"] is not None
    assert {"states": stats["states"], "groups": stats["groups"]} == _live(journey)
    assert stats["states"] == {"waiting": 25}


def test_refresh_replaces_rows_and_covers_every_journey(journey):
    contacts_make(10)
    journey_enter(journey=journey, now=T0)
    journey_stats_refresh()
    Enrollment.objects.filter(journey=journey).update(state="exited")
    journey_stats_refresh(journey_ids=[journey.pk])
    assert journey_stats(journey=journey)["states"] == {"exited": 10}
    assert JourneyStat.objects.filter(journey=journey, state="active").count() == 0


def test_journey_list_and_page_queries_do_not_grow_with_enrollments(
    admin_client, journey, django_assert_num_queries
):
    from django.db import connection

    contacts_make(3, prefix="a")
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    page = f"/admin/journeys/journey/{journey.pk}/change/"
    admin_client.get("/admin/journeys/journey/")
    admin_client.get(page)
    with CaptureQueriesContext(connection) as listing:
        response = admin_client.get("/admin/journeys/journey/")
    assert b'<td class="field-in_flight">3</td>' in response.content
    with CaptureQueriesContext(connection) as detail:
        body = admin_client.get(page).content.decode()
    assert "waiting: 3" in body and "counted at" in body

    contacts_make(40, prefix="b")
    journey_enter(journey=journey, now=T0 + DAY)
    journeys_tick(now=T0 + DAY, deliver="", max_seconds=None)
    with django_assert_num_queries(len(listing.captured_queries)):
        response = admin_client.get("/admin/journeys/journey/")
    assert b'<td class="field-in_flight">43</td>' in response.content
    with django_assert_num_queries(len(detail.captured_queries)):
        body = admin_client.get(page).content.decode()
    assert "waiting: 43" in body
    # No query of either page reads the enrollments table.
    for query in [*listing.captured_queries, *detail.captured_queries]:
        assert "journeys_enrollment" not in query["sql"], query["sql"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_journey_never_collide(segment_everyone):
    """Two ticks ending at once both refresh the rollup: neither may fail on the one-row-per-group rule."""
    import threading

    from django.db import connection

    journey = journey_build(
        "Raced",
        {"entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"})},
        [],
        now=T0,
    )
    contacts_make(30)
    journey_enter(journey=journey, now=T0)
    errors: list[Exception] = []
    start = threading.Barrier(4)

    def refresh():
        try:
            start.wait(10)
            for _ in range(15):
                journey_stats_refresh(journey_ids=[journey.pk])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(JourneyStat.objects.filter(journey=journey).values_list("enrolled", flat=True)) == 30
