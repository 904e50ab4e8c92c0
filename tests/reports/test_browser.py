"""The dashboard, a journey report and the movement page in a real browser, with screenshots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from segments.models import ContactScore, ScoreChange, ScoringRun
from tests.reports.data import showcase_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("test-results/screenshots")
DOCS = Path("docs/images")


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}}


def login(page, live_server, admin_user):
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")


def charts_drawn(page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas[data-bar-chart], canvas[data-line-chart]')]"
        ".every(c => c.dataset.ready === 'true')"
    )


def test_dashboard_journey_report_and_movement(page, live_server, admin_user):
    SHOTS.mkdir(parents=True, exist_ok=True)
    known = showcase_build(timezone.localdate())
    run = ScoringRun.objects.create(status="done")
    now = timezone.now()
    contacts = [e.contact_id for e in known.enrollments[("A", False)][:12]]
    moves = [("At Risk", "Loyal"), ("At Risk", "Hibernating"), ("Loyal", "At Risk"), ("Hibernating", "Lost")]
    ScoreChange.objects.bulk_create(
        [
            ScoreChange(
                contact_id=c,
                run=run,
                changed_at=now - dt.timedelta(days=3),
                field="segment",
                old=moves[i % 4][0],
                new=moves[i % 4][1],
            )  # fmt: skip
            for i, c in enumerate(contacts)
        ]
    )
    for i, c in enumerate(contacts):  # scores now agree with the history
        ContactScore.objects.filter(contact_id=c).update(rfm_segment=moves[i % 4][1])
    login(page, live_server, admin_user)

    assert page.locator('[data-page="dashboard"]').is_visible()
    charts_drawn(page)
    assert page.locator('[data-card="getting-started"]').is_visible()
    assert page.locator('[data-table="journeys"]').get_by_text("Spring winback").is_visible()
    page.screenshot(path=str(SHOTS / "dashboard.png"))
    page.screenshot(path=str(DOCS / "dashboard.png"))

    page.locator('[data-table="journeys"]').get_by_role("link", name="Report", exact=True).click()
    page.wait_for_selector('[data-page="journey-report"]')
    charts_drawn(page)
    assert "Too few contacts to tell yet" in page.locator("[data-verdict]").inner_text()
    assert page.locator('[data-lift="absolute"]').inner_text() == "+10.0 pts"
    page.screenshot(path=str(SHOTS / "journey-report.png"))
    page.screenshot(path=str(DOCS / "journey-report.png"))
    page.screenshot(path=str(SHOTS / "journey-report-full.png"), full_page=True)

    page.goto(f"{live_server.url}/reports/movement/")
    charts_drawn(page)
    page.locator('[data-cell="At Risk→Loyal"]').click()
    page.wait_for_selector('[data-page="movement-contacts"]')
    assert page.locator('[data-table="contacts"] tbody tr').count() == 3
    page.go_back()
    page.wait_for_selector('[data-page="movement"]')
    charts_drawn(page)
    page.screenshot(path=str(SHOTS / "movement.png"), full_page=True)

    page.goto(f"{live_server.url}/reports/coupons/")
    charts_drawn(page)
    page.screenshot(path=str(SHOTS / "coupons.png"))
