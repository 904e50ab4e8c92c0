"""Report pages, CSV downloads, the dashboard and rollups, movement matrices: numbers and query counts."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from journeys.models import Journey, Step
from messaging.models import Message
from reports.models import DailyCount
from reports.selectors.movement import transition_matrix
from reports.services import rollups_refresh
from segments.models import ContactScore, ScoreChange, ScoringRun
from tests.reports.data import T0, known_journey_build

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def rows_of(response) -> list[list[str]]:
    return list(
        csv.reader(io.StringIO(b"".join(response) if response.streaming else response.content.decode()))
    )


@pytest.fixture
def known():
    return known_journey_build()


def test_journey_report_page_shows_the_numbers_and_links_declare_winner(admin_client, known):
    url = reverse("reports:journey", args=[known.journey.pk])
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Too few contacts to tell yet: about" in page
    assert "+10.0 pts" in page  # absolute lift 0.15 - 0.05
    assert "15.0 %" in page and "5.0 %" in page
    assert "€720.50" in page
    assert 'data-declare-winner="A"' in page
    # Session, user, the journey, its snapshot, its versions (filter form), the report's 9 and the sidebar.
    first = len(queries)
    Journey.objects.filter(pk=known.journey.pk).update(description="more")
    with CaptureQueriesContext(connection) as again:
        admin_client.get(url)
    assert len(again) == first == 14, [q["sql"][:80] for q in again.captured_queries]


def test_journey_report_filters_and_rejects_bad_range(admin_client, known):
    url = reverse("reports:journey", args=[known.journey.pk])
    response = admin_client.get(url, {"entered_from": "2026-03-07"})
    assert response.context["report"]["entered"] == 50
    response = admin_client.get(url, {"entered_from": "2026-03-07", "entered_to": "2026-03-01"})
    assert response.status_code == 200
    assert "after its end" in response.content.decode()
    assert response.context["report"]["entered"] == 100


def test_every_journey_table_downloads_as_safe_csv(admin_client, known):
    Step.objects.filter(version=known.journey.current_version, name="Email A").update(name="=HYPERLINK(1)")
    url = reverse("reports:journey", args=[known.journey.pk])
    for table in ("summary", "lift", "variants", "steps", "messages", "exited"):
        response = admin_client.get(url, {"download": table})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert len(rows_of(response)) >= 2
    steps = rows_of(admin_client.get(url, {"download": "steps"}))
    assert any(row[1] == "'=HYPERLINK(1)" for row in steps)
    assert admin_client.get(url, {"download": "nope"}).status_code == 404


def test_declare_winner_from_the_report(admin_client, known):
    key = known.steps["split"].key
    response = admin_client.post(
        reverse("reports:journey-declare-winner", args=[known.journey.pk]), {"step_key": key, "variant": "A"}
    )
    assert response.status_code == 302
    known.journey.refresh_from_db()
    assert known.journey.current_version.number == 2
    assert not Step.objects.filter(version=known.journey.current_version, kind="ab_split").exists()
    response = admin_client.post(
        reverse("reports:journey-declare-winner", args=[known.journey.pk]), {"step_key": key, "variant": "A"}
    )
    assert known.journey.versions.count() == 2  # refused with a message, no 500


def test_report_pages_need_staff(client, known):
    response = client.get(reverse("reports:journey", args=[known.journey.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_rollups_and_dashboard(admin_client, known):
    today = timezone.localdate()
    now = timezone.now()
    contacts = list(Contact.objects.order_by("pk")[:3])
    Message.objects.filter(journey_id=known.journey.pk).update(sent_at=None)  # keep T0 out of the window
    for i, c in enumerate(contacts):
        Message.objects.create(
            contact=c, channel="email", idempotency_key=f"dash{i}", status="sent" if i else "bounced",
            sent_at=now, opened_at=now if i == 1 else None,
        )  # fmt: skip
    ContactScore.objects.filter(contact__in=contacts[:2]).update(
        lifecycle_stage="defecting", predicted_clv=100.5
    )
    run = ScoringRun.objects.create(status="done")
    ScoreChange.objects.create(
        contact=contacts[2], run=run, changed_at=now, field="stage", old="lost", new="active"
    )
    assert rollups_refresh() > 0
    assert rollups_refresh() > 0  # idempotent: replaced, not added
    assert DailyCount.objects.get(day=today, metric="messages", key="sent").value == 3
    assert DailyCount.objects.get(day=today, metric="messages", key="bounced").value == 1
    assert DailyCount.objects.get(day=today, metric="messages", key="opened").value == 1
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:index"))
    # Session, user, the dashboard's 8 (2 snapshot, messages, journeys, rollup + conversions, pools,
    # reactivated).
    assert len(queries) == 10, [q["sql"][:80] for q in queries.captured_queries]
    page = response.content.decode()
    assert response.status_code == 200 and 'data-page="dashboard"' in page
    assert "€201.00" in page  # revenue at risk: two defecting contacts of 100.50
    assert 'data-card="getting-started"' in page
    dash = reverse("reports:dashboard-download")
    stages = rows_of(admin_client.get(dash, {"download": "stages"}))
    assert ["Defecting", "2"] in stages


def test_movement_matrix_counts_start_and_end_values_not_changes(admin_client, db):
    run = ScoringRun.objects.create(status="done")
    c1, c2, c3, c4, c5 = (Contact.objects.create(email=f"m{i}@example.com") for i in range(5))
    changes = [
        (c1, 5, "Champions", "At Risk"),
        (c2, 3, "Loyal", "At Risk"),
        (c2, 8, "At Risk", "Hibernating"),
        (c3, -5, "At Risk", "Loyal"),  # before the period
        (c4, 12, "Loyal", "Champions"),  # after the period
        (c5, 2, "Loyal", "At Risk"),
        (c5, 4, "At Risk", "Loyal"),  # back where it started
    ]
    for contact, days, old, new in changes:
        ScoreChange.objects.create(
            contact=contact, run=run, changed_at=T0 + days * DAY, field="segment", old=old, new=new
        )
    matrix = transition_matrix(field="segment", start=T0, end=T0 + 10 * DAY)
    assert matrix["cells"] == {
        ("Champions", "At Risk"): 1,
        ("Loyal", "Hibernating"): 1,
        ("Loyal", "Loyal"): 1,
    }
    url = reverse("reports:movement")
    response = admin_client.get(url, {"field": "segment", "from": "2026-03-01", "to": "2026-03-12"})
    assert response.status_code == 200
    assert response.context["matrix"]["cells"] == matrix["cells"]
    cell = admin_client.get(
        reverse("reports:movement-contacts"),
        {"field": "segment", "from": "2026-03-01", "to": "2026-03-12", "a": "Loyal", "b": "Hibernating"},
    )
    assert [c.pk for c in cell.context["contacts"]] == [c2.pk]
    rows = rows_of(admin_client.get(url, {"field": "segment", "from": "2026-03-01", "to": "2026-03-12",
                                          "download": "matrix"}))  # fmt: skip
    assert rows[0][1:] == ["At Risk", "Champions", "Hibernating", "Loyal"]


def test_inactive_reengagement_against_holdout(admin_client, known):
    response = admin_client.get(reverse("reports:movement"))
    (row,) = response.context["reengagement"]
    # Treated A: 4 were Inactive at entry and are Low now, 10 are Inactive still; holdout A: 4 Inactive still.
    assert row["treated"] == {"entered": 14, "moved": 4, "rate": 4 / 14}
    assert row["holdout"] == {"entered": 4, "moved": 0, "rate": 0.0}


def test_coupons_report(admin_client, db):
    from contacts.models import Order
    from coupons.models import CouponPool
    from coupons.services import coupon_redemptions_record, coupons_assign_bulk, coupons_generate

    pool = CouponPool.objects.create(name="=Pool", offer_kind="percent", offer_value=10)
    coupons_generate(pool=pool, count=10)
    contacts = [Contact.objects.create(email=f"cp{i}@example.com") for i in range(4)]
    codes = coupons_assign_bulk(pool=pool, contact_ids=[c.pk for c in contacts])
    orders = []
    for days, contact in zip((2, 6), contacts[:2], strict=True):
        coupon = codes[contact.pk]
        orders.append(
            Order.objects.create(
                external_id=f"CP{contact.pk}", contact=contact, total="40.00", coupon_code=coupon.code,
                placed_at=coupon.assigned_at + days * DAY,
            ).pk
        )  # fmt: skip
    coupon_redemptions_record(order_ids=orders)
    response = admin_client.get(reverse("reports:coupons"))
    assert response.status_code == 200
    (row,) = response.context["data"]["pools"]
    assert (row["assigned"], row["redeemed"], row["rate"]) == (4, 2, 0.5)
    assert float(row["revenue"]) == 80.0
    assert row["median_days"] == pytest.approx(4.0)  # median of 2 and 6 days
    assert sum(response.context["data"]["over_time"]["assigned"]) == 4
    rows = rows_of(admin_client.get(reverse("reports:coupons"), {"download": "pools"}))
    assert rows[1][0] == "'=Pool"


def test_journey_admin_page_links_to_its_report(admin_client, known):
    response = admin_client.get(reverse("admin:journeys_journey_change", args=[known.journey.pk]))
    assert reverse("reports:journey", args=[known.journey.pk]) in response.content.decode()


def test_dashboard_without_any_data_explains_the_rollup(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "fill in after the first hourly rollup" in page
    assert "No active journey" in page
    assert reverse("admin:journeys_journey_add") in page  # no playbook gallery yet: the plain add page


def test_journey_report_page_reads_the_hourly_snapshot_unless_filtered_or_asked_live(admin_client, known):
    from reports.services import journey_snapshots_refresh

    url = reverse("reports:journey", args=[known.journey.pk])
    live = admin_client.get(url).context["report"]
    assert journey_snapshots_refresh() == 1
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url)
    stored = response.context["report"]
    assert response.context["snapshot"] is not None and "data-snapshot" in response.content.decode()
    assert len(queries) == 5, [q["sql"][:80] for q in queries.captured_queries]  # nine report queries: none
    for key in ("entered", "converted", "revenue", "in_flight", "median_days_to_purchase"):
        assert stored[key] == live[key]
    assert stored["lift"]["absolute"] == pytest.approx(live["lift"]["absolute"])
    assert stored["variants"][0]["p_value"] == pytest.approx(live["variants"][0]["p_value"])
    assert "Too few contacts to tell yet" in response.content.decode()
    assert admin_client.get(url, {"live": "1"}).context["snapshot"] is None
    assert admin_client.get(url, {"entered_from": "2026-03-07"}).context["report"]["entered"] == 50


def test_movement_reads_stored_reengagement_after_the_hourly_task(admin_client, known):
    from reports.services import journey_snapshots_refresh

    live = admin_client.get(reverse("reports:movement")).context["reengagement"]
    journey_snapshots_refresh()
    response = admin_client.get(reverse("reports:movement"))
    assert response.context["reengagement_stored"] is True
    assert response.context["reengagement"] == live
    assert (
        admin_client.get(reverse("reports:movement"), {"live": "1"}).context["reengagement_stored"] is False
    )


def test_dashboard_journey_counts_come_from_the_hourly_rollup(db):
    """Entered and messaged in the last 7 days are read from DailyCount rows per journey and day: the
    dashboard never counts a journey's enrollments or messages itself."""
    from journeys.models import Enrollment
    from journeys.services import journey_enter
    from reports.selectors.dashboard import dashboard
    from segments.models import Segment
    from tests.journeys.conftest import contacts_make, journey_build

    everyone = Segment.objects.create(name="Everyone", rules={})
    journey = journey_build(
        "Weekly", {"entry": ("entry", {"segment_id": everyone.pk, "every": 1, "period": "days"})}, []
    )
    contacts = contacts_make(5, prefix="w")
    assert journey_enter(journey=journey) == 5
    Enrollment.objects.filter(contact=contacts[0]).update(entered_at=timezone.now() - dt.timedelta(days=10))
    Message.objects.bulk_create(
        Message(contact=c, channel="email", idempotency_key=f"w{c.pk}", status="sent", journey_id=journey.pk)
        for c in contacts[:3]
    )
    rollups_refresh()
    today = DailyCount.objects.get(metric="journey_entered", key=str(journey.pk), day=timezone.localdate())
    assert today.value == 4

    def journeys_row() -> tuple[int, int]:
        [row] = [j for j in dashboard()["journeys"] if j["id"] == journey.pk]
        return row["entered"], row["messaged"]

    assert journeys_row() == (4, 3)  # the enrollment of 10 days ago is outside the window
    Enrollment.objects.filter(journey=journey).delete()
    assert journeys_row() == (4, 3)  # until the next rollup
    rollups_refresh()
    assert journeys_row() == (0, 3)
