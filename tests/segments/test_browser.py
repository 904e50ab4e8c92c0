import json

import pytest
from django.urls import reverse

from tests.segments.helpers import contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _count(page) -> str:
    return page.inner_text("[data-testid=match-count]")


def test_rule_editor_updates_the_count_as_you_edit(page, live_server, admin_user, tmp_path):
    for i in range(5):
        contact(country="DE", first_name=f"Dieter{i}")
    for i in range(3):
        contact(country="FR", first_name=f"Francine{i}")
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}{reverse('admin:segments_segment_add')}")

    # On load the empty rules match everyone.
    page.wait_for_selector("[data-testid=match-count]")
    assert _count(page) == "8"

    page.locator(".rb-advanced summary").click()  # the advanced JSON starts closed
    page.fill("#id_rules", json.dumps({"field": "country", "operator": "eq", "value": "DE"}))
    page.wait_for_function("document.querySelector('[data-testid=match-count]')?.innerText === '5'")
    assert "Dieter" in page.inner_text("#rules-preview")

    page.fill("#id_rules", json.dumps({"field": "country", "operator": "in", "value": ["FR"]}))
    page.wait_for_function("document.querySelector('[data-testid=match-count]')?.innerText === '3'")

    page.fill("#id_rules", json.dumps({"field": "country", "operator": "between", "value": "x"}))
    page.wait_for_selector("[data-testid=rule-errors]")
    assert "not valid for country" in page.inner_text("[data-testid=rule-errors]")
    page.screenshot(path=str(tmp_path / "segment-editor.png"), full_page=True)

    # The picker adds a ready-made condition (country in DE, AT) and the count follows.
    page.fill("#id_rules", "")
    page.select_option("#rule-field-picker", label="Contact: Country (ISO code)")
    page.click("#rule-add")
    page.wait_for_function("document.querySelector('[data-testid=match-count]')?.innerText === '5'")
    assert json.loads(page.input_value("#id_rules")) == {
        "op": "and",
        "rules": [{"field": "country", "operator": "in", "value": ["DE", "AT"]}],
    }
    page.fill("#id_name", "Germans")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    assert "Germans" in page.inner_text("#result_list")


def test_slow_preview_says_about_n_then_the_exact_count_arrives(page, live_server, admin_user, settings):
    """Past the preview budget (0 here: never count inline) the page shows the saved size as "about N",
    then htmx fetches the exact count; the page itself never waited for a count."""
    from pathlib import Path

    from segments.models import Segment
    from segments.services import segment_evaluate

    settings.SEGMENT_PREVIEW_BUDGET_MS = 0
    for i in range(6):
        contact(country="DE", first_name=f"Dora{i}")
    segment = Segment.objects.create(
        name="Germans", rules={"field": "country", "operator": "eq", "value": "DE"}
    )
    segment_evaluate(segment=segment)
    contact(country="DE", first_name="Late")  # counted after the size was saved
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}{reverse('admin:segments_segment_change', args=[segment.pk])}")
    page.wait_for_selector("[data-testid=match-estimate]")
    assert "About 6" in page.inner_text("[data-testid=match-estimate]")
    page.wait_for_function("document.querySelector('[data-testid=match-count]')?.innerText === '7'")
    assert "Exactly 7" in page.inner_text("[data-testid=exact-count]")
    assert page.locator("[data-testid=match-estimate]").count() == 0  # the exact count replaced "about"
    shots = Path("test-results/screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    page.locator(".segment-editor").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "segment-preview-about-n.png"))
