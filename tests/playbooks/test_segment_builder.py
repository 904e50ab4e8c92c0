"""The segment builder: a segment built with the widgets only (nested group, NOT, multi-select,
"N days ago"), round-tripping through the advanced JSON both ways, saved and redrawn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from segments.models import Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("test-results/screenshots")


def _json(page) -> dict:
    return json.loads(page.locator("#id_rules").input_value())


def test_marketer_builds_a_segment_with_widgets_only(page, live_server, admin_user):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.locator("#id_name").fill("Lapsed high value")
    builder = page.get_by_test_id("rules-builder")

    builder.locator('[data-group="0"] > .rb-buttons [data-role=add-condition]').click()
    row = builder.locator('[data-condition="0.0"]')
    row.locator("[data-role=field]").select_option("rfm_segment")
    row = builder.locator('[data-condition="0.0"]')
    row.locator("[data-role=operator]").select_option("in")
    builder.locator('[data-condition="0.0"] select[data-role=value]').select_option(["At Risk", "Lost"])

    builder.locator('[data-group="0"] > .rb-buttons [data-role=add-group]').click()
    group = builder.locator('[data-group="0.1"]')
    group.locator("[data-role=group-op]").first.select_option("and")
    group.locator("[data-role=group-not]").first.check()
    inner = builder.locator('[data-condition="0.1.0"]')
    inner.locator("[data-role=field]").select_option("last_purchase")
    builder.locator('[data-condition="0.1.0"] [data-role=operator]').select_option("before")
    builder.locator('[data-condition="0.1.0"] [data-role=date-mode]').select_option("ago")
    builder.locator('[data-condition="0.1.0"] [data-role=days-ago]').fill("30")
    builder.locator('[data-group="0.1"] > .rb-buttons [data-role=add-condition]').click()
    builder.locator('[data-condition="0.1.1"] [data-role=field]').select_option("email_opened")
    builder.locator('[data-condition="0.1.1"] [data-role=operator]').select_option("within_last_days")
    builder.locator('[data-condition="0.1.1"] [data-role=value]').fill("60")

    expected = {
        "op": "and",
        "rules": [
            {"field": "rfm_segment", "operator": "in", "value": ["Lost", "At Risk"]},
            {
                "op": "not",
                "rules": [
                    {
                        "op": "and",
                        "rules": [
                            {"field": "last_purchase", "operator": "before", "value": {"days_ago": 30}},
                            {"field": "email_opened", "operator": "within_last_days", "value": 60},
                        ],
                    }
                ],
            },
        ],
    }
    expect(page.locator("#id_rules")).to_be_hidden()  # the JSON starts closed: no JSON for a marketer
    page.locator(".rb-advanced summary").click()  # open the advanced JSON
    expect(page.locator("#id_rules")).to_be_visible()
    assert _json(page) == expected
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "segment-builder.png"), full_page=True)

    # Advanced JSON -> rows: an edit in the JSON redraws the widgets.
    edited = json.loads(json.dumps(expected))
    edited["rules"][1]["rules"][0]["rules"][0]["value"] = {"days_ago": 200}
    page.locator("#id_rules").fill(json.dumps(edited))
    expect(builder.locator('[data-condition="0.1.0"] [data-role=days-ago]')).to_have_value("200")
    selected = builder.locator('[data-condition="0.0"] select[data-role=value] option:checked')
    expect(selected).to_have_count(2)

    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist li.success")).to_be_visible()
    segment = Segment.objects.get(name="Lapsed high value")
    assert segment.rules == edited
    # Redrawn from the saved JSON; drawing alone changes nothing.
    expect(
        page.get_by_test_id("rules-builder").locator('[data-condition="0.1.1"] [data-role=value]')
    ).to_have_value("60")
    assert _json(page) == edited
