"""The journey report and `manage.py journey_report` on known data, checked by hand and with scipy."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from scipy import integrate
from scipy import stats as scipy_stats

from journeys.models import Enrollment
from reports.selectors.journey import ReportFilter, journey_results
from tests.reports.data import DAY, DAYS_TO_PURCHASE, REVENUE, T0, known_journey_build

pytestmark = pytest.mark.django_db
Z = 1.959963984540054


def wilson(x, n):
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


@pytest.fixture
def known():
    return known_journey_build()


def test_totals_groups_and_holdout_lift_are_the_hand_counted_ones(known):
    report = journey_results(journey=known.journey)
    assert report["entered"] == 100
    assert report["converted"] == 13
    assert report["revenue"] == pytest.approx(455.5 + 215 + 50)
    assert (report["holdout"]["entered"], report["holdout"]["converted"], report["holdout"]["revenue"]) == (
        20,
        1,
        50,
    )
    assert (report["treated"]["entered"], report["treated"]["converted"]) == (80, 12)
    lift = report["lift"]
    assert lift["absolute"] == pytest.approx(12 / 80 - 1 / 20)  # 10 points
    assert lift["relative"] == pytest.approx(0.10 / 0.05)  # +200 %
    # Newcombe's hybrid score interval from the two Wilson intervals, by hand.
    (l1, u1), (l2, u2) = wilson(12, 80), wilson(1, 20)
    assert lift["ci_low"] == pytest.approx(0.10 - math.sqrt((0.15 - l1) ** 2 + (u2 - 0.05) ** 2))
    assert lift["ci_high"] == pytest.approx(0.10 + math.sqrt((u1 - 0.15) ** 2 + (0.05 - l2) ** 2))
    # The z test's p equals the uncorrected chi-square on the 2x2 table.
    _, p, _, _ = scipy_stats.chi2_contingency([[12, 68], [1, 19]], correction=False)
    assert lift["p_value"] == pytest.approx(p)
    # Revenue per contact: Welch on per-contact revenue (0 for contacts who did not convert).
    treated = np.array([float(v) for v in REVENUE[("A", False)] + REVENUE[("B", False)]] + [0.0] * 68)
    holdout = np.array([50.0] + [0.0] * 19)
    welch = scipy_stats.ttest_ind(treated, holdout, equal_var=False).confidence_interval(0.95)
    assert lift["revenue_per_contact"] == pytest.approx(treated.mean() - holdout.mean())
    assert lift["revenue_ci_low"] == pytest.approx(welch.low)
    assert lift["revenue_ci_high"] == pytest.approx(welch.high)
    assert lift["incremental_conversions"] == pytest.approx(0.10 * 80)
    assert lift["incremental_revenue"] == pytest.approx((treated.mean() - holdout.mean()) * 80)
    # The interval crosses zero with 20 holdout contacts: not enough to tell.
    assert lift["ci_low"] < 0 < lift["ci_high"]
    assert lift["verdict"].startswith("Too few contacts to tell yet: about ")
    assert f"{lift['more_needed']:,} more needed" in lift["verdict"]


def test_variants_with_interval_test_and_probability_best(known):
    report = journey_results(journey=known.journey)
    a, b = report["variants"]
    assert (a["variant"], a["entered"], a["converted"], a["revenue"]) == ("A", 40, 8, 455.5)
    assert (b["variant"], b["entered"], b["converted"], b["revenue"]) == ("B", 40, 4, 215.0)
    assert a["conversion_rate"] == 0.2 and b["conversion_rate"] == 0.1
    assert (a["ci_low"], a["ci_high"]) == pytest.approx(wilson(8, 40))
    _, p, _, _ = scipy_stats.chi2_contingency([[8, 32], [4, 36]], correction=False)
    assert a["p_value"] == pytest.approx(p) and a["test"] == "two-proportion z test"
    pa, pb = scipy_stats.beta(9, 33), scipy_stats.beta(5, 37)
    exact, _ = integrate.quad(lambda x: pa.pdf(x) * pb.cdf(x), 0, 1)
    assert a["probability_best"] == pytest.approx(exact, abs=0.01)
    assert a["probability_best"] + b["probability_best"] == pytest.approx(1)


def test_steps_funnel_in_flight_exits_and_messages(known):
    report = journey_results(journey=known.journey)
    steps = {s["name"]: s for s in report["steps"]}
    assert [s["name"] for s in report["steps"]] == ["entry", "split", "Email A", "Email B"]
    assert {name: s["reached"] for name, s in steps.items()} == {
        "entry": 100, "split": 100, "Email A": 50, "Email B": 45,
    }  # fmt: skip
    assert steps["Email B"]["in_flight"] == 5 and report["in_flight"] == 5
    assert {(e["state"], e["reason"]): e["contacts"] for e in report["exited"]} == {
        ("exited", "converted"): 13,
        ("completed", "end"): 82,
    }
    (email_a,) = steps["Email A"]["messages"]
    counted = ("channel", "sent", "delivered", "opened", "clicked", "unsubscribed", "bounced")
    assert [email_a[k] for k in counted] == ["email", 38, 36, 20, 8, 1, 2]
    assert email_a["open_rate"] == pytest.approx(20 / 36)
    assert email_a["bounce_rate"] == pytest.approx(2 / 38)
    (email_b,) = steps["Email B"]["messages"]
    assert (email_b["sent"], email_b["delivered"], email_b["clicked"]) == (33, 30, 3)


def test_reactivation_and_median_time_to_purchase(known):
    report = journey_results(journey=known.journey)
    # Treated: 4 'defecting' at entry (their change to 'active' came later) + 10 'lost'; the 4 bought.
    assert report["reactivation"]["treated"] == {"eligible": 14, "purchased": 4, "rate": 4 / 14}
    assert report["reactivation"]["holdout"] == {"eligible": 4, "purchased": 1, "rate": 1 / 4}
    days = [d for values in DAYS_TO_PURCHASE.values() for d in values]
    assert report["median_days_to_purchase"] == pytest.approx(statistics.median(days))


def test_filters_by_entry_date_and_version(known):
    later = journey_results(journey=known.journey, filters=ReportFilter(entered_from=(T0 + 5 * DAY).date()))
    # Odd-numbered contacts of each group entered on day 10.
    assert later["entered"] == 20 + 20 + 5 + 5
    converted = sum(len(v[1::2]) for v in REVENUE.values())
    assert later["converted"] == converted
    other = known.journey.versions.create(number=2)
    assert journey_results(journey=known.journey, filters=ReportFilter(version=other))["entered"] == 0


def test_report_runs_a_fixed_number_of_queries(known):
    with CaptureQueriesContext(connection) as first:
        journey_results(journey=known.journey)
    Enrollment.objects.filter(state="completed").update(state="exited")
    with CaptureQueriesContext(connection) as second:
        journey_results(journey=known.journey)
    assert len(first) == len(second) == 9


def test_command_prints_exactly_the_documented_json(known):
    out = io.StringIO()
    call_command("journey_report", "Spring winback", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"entered", "converted", "revenue", "holdout", "lift", "variants", "steps"}
    assert data["holdout"] == {"entered": 20, "converted": 1, "revenue": 50.0}
    assert set(data["lift"]) == {"absolute", "relative", "ci_low", "ci_high"}
    report = journey_results(journey=known.journey)
    assert data["entered"] == 100 and data["converted"] == 13 and data["revenue"] == 720.5
    assert data["lift"]["absolute"] == pytest.approx(report["lift"]["absolute"])
    assert data["lift"]["ci_low"] == pytest.approx(report["lift"]["ci_low"])
    assert [v["variant"] for v in data["variants"]] == ["A", "B"]
    assert [s["name"] for s in data["steps"]] == ["entry", "split", "Email A", "Email B"]


def test_command_since_and_csv(known):
    out = io.StringIO()
    call_command("journey_report", "Spring winback", "--since", "2026-03-07", stdout=out)
    assert json.loads(out.getvalue())["entered"] == 50
    out = io.StringIO()
    call_command("journey_report", "Spring winback", "--format", "csv", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert ["treated", "80", "12", "0.15", "670.5", str(670.5 / 80)] in rows


def test_command_refuses_unknown_journey_and_bad_date(known):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No journey named"):
        call_command("journey_report", "Nope")
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("journey_report", "Spring winback", "--since", "yesterday")
