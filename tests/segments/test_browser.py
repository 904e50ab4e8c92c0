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
