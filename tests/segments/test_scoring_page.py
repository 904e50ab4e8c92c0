"""The scoring run page: score distribution, CLV model (and its fallback), model check."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from segments.models import ScoringRun
from segments.services import scoring_run_execute
from tests.segments.test_cdnow_pipeline import _load_all_cdnow

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


def _cdnow_run() -> ScoringRun:
    _load_all_cdnow()
    return scoring_run_execute(run=ScoringRun.objects.create(), as_of=dt.datetime(1998, 6, 30, tzinfo=dt.UTC))


@pytest.mark.django_db
def test_run_page_shows_distribution_grid_and_model_check(admin_client, django_assert_max_num_queries):
    run = _cdnow_run()
    url = reverse("admin:segments_scoringrun_change", args=[run.pk])
    with django_assert_max_num_queries(8):  # session, user, the run (twice: report + form): no per-row reads
        body = admin_client.get(url).content.decode()
    for hook in ("histogram-R", "histogram-F", "histogram-M", "segment-grid", "model-check", "check-chart"):
        assert f'data-testid="{hook}"' in body
    assert f"{run.model_check['accuracy']:.1%}" in body
    assert run.model_check["verdict_text"][:40] in body
    lost = run.distribution["segments"]["Lost"]
    assert f'data-segment="Lost"><td>Lost</td><td class="num">{lost:,}</td>' in body
    assert "Empty in this data: Promising, New Customers." in body
    assert '"distribution"' not in body  # no raw JSON
    # The htmx partial (polled while the run is in progress) carries the same report once done.
    partial = admin_client.get(
        reverse("segments:run-progress", args=[run.pk]), headers={"HX-Request": "true"}
    )
    assert 'data-testid="segment-grid"' in partial.content.decode()


@pytest.mark.django_db
def test_run_page_names_the_limit_model(admin_client):
    from contacts.models import Contact, Order

    rng = np.random.default_rng(5)
    as_of = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    contacts = Contact.objects.bulk_create([Contact(email=f"p{i}@example.com") for i in range(300)])
    rows = []
    for i, c in enumerate(contacts):  # steady buyers who never stop: one order every ~30 days
        start = int(rng.integers(60, 700))
        for k, day in enumerate(range(start, 0, -int(rng.integers(20, 40)))):
            rows.append(
                Order(external_id=f"p{i}-{k}", contact=c, placed_at=as_of - dt.timedelta(days=day), total=30)
            )
    Order.objects.bulk_create(rows, batch_size=2000)
    run = scoring_run_execute(run=ScoringRun.objects.create(), as_of=as_of)
    assert run.clv_fit["model"] == "nbd", run.clv_fit["bgnbd"]
    body = admin_client.get(reverse("admin:segments_scoringrun_change", args=[run.pk])).content.decode()
    assert 'data-testid="clv-fallback"' in body and "no drop-out" in body


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_run_page_screenshot(page, live_server, admin_user):
    run = _cdnow_run()
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}{reverse('admin:segments_scoringrun_change', args=[run.pk])}")
    page.wait_for_selector("[data-testid=segment-grid]")
    assert (
        page.locator("[data-testid=segment-grid] td[data-r='1'][data-f='1']").inner_text().startswith("Lost")
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "scoring-run.png"), full_page=True)
