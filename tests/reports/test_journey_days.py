"""Filtered journey reports from the per-entry-day rows the hourly task stores: the same numbers as
counting live, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from journeys.models import Enrollment, JourneyVersion
from reports.journey_days import journey_results_from_days
from reports.models import JourneyDay
from reports.selectors.journey import ReportFilter, journey_results
from reports.services import journey_snapshots_refresh
from tests.reports.data import known_journey_build

pytestmark = pytest.mark.django_db


def comparable(report: dict) -> dict:
    out = {k: v for k, v in report.items() if k not in ("journey", "filters", "version")}
    for group in ("treated", "holdout"):
        out[group] = {**out[group], "_squares": pytest.approx(out[group]["_squares"])}
    out["lift"] = {k: pytest.approx(v) if isinstance(v, float) else v for k, v in out["lift"].items()}
    out["variants"] = [{k: pytest.approx(v) if isinstance(v, float) else v for k, v in row.items()}
                       for row in out["variants"]]  # fmt: skip
    out["median_days_to_purchase"] = pytest.approx(out["median_days_to_purchase"])
    return out


def test_day_rows_sum_to_the_live_report_for_every_filter(admin_client):
    known = known_journey_build()
    journey = known.journey
    other = JourneyVersion.objects.create(journey=journey, number=journey.current_version.number + 1)
    moved = [e.pk for e in known.enrollments[("A", False)][:7]] + [
        e.pk for e in known.enrollments[("A", True)][:3]
    ]
    Enrollment.objects.filter(pk__in=moved).update(version=other)
    assert journey_snapshots_refresh() == 1
    assert JourneyDay.objects.filter(journey=journey).count() == 4  # 2 versions x 2 entry days
    day0 = dt.date(2026, 3, 2)
    for filters in (
        ReportFilter(),
        ReportFilter(version=other),
        ReportFilter(version=journey.current_version, entered_to=day0),
        ReportFilter(entered_from=day0 + dt.timedelta(days=5)),
        ReportFilter(entered_from=day0, entered_to=day0),
        ReportFilter(entered_from=dt.date(2027, 1, 1)),
    ):
        from_days = journey_results_from_days(journey=journey, filters=filters)
        live = journey_results(journey=journey, filters=filters)
        assert comparable(from_days) == comparable(live), filters

    url = reverse("reports:journey", args=[journey.pk])
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url, {"entered_from": "2026-03-07"})
    # Session, user, journey, its versions (form), snapshot; steps, edges, day rows, message steps' keys.
    assert len(queries) == 9, [q["sql"][:80] for q in queries.captured_queries]
    assert response.context["report"]["entered"] == 50 and response.context["snapshot"] is not None
    live = admin_client.get(url, {"entered_from": "2026-03-07", "live": "1"})
    assert live.context["snapshot"] is None and live.context["report"]["entered"] == 50


def test_count_now_keeps_the_filters(admin_client):
    known = known_journey_build()
    journey_snapshots_refresh()
    url = reverse("reports:journey", args=[known.journey.pk])
    page = admin_client.get(url, {"entered_from": "2026-03-07"}).content.decode()
    assert 'href="?entered_from=2026-03-07&amp;live=1">Count now' in page
