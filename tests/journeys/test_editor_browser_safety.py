"""Names marketers type (pools, steps, segments) reach the canvas's HTML: they must show as text and
never run as markup, even inside the attributes of the problem flags."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from coupons.models import CouponPool
from segments.models import Segment
from tests.journeys.conftest import journey_build
from tests.journeys.test_editor_browser import marketer_page, node, patient_expect  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = '"><img src=x onerror="window.__xss=1">'


def test_hostile_names_show_as_text_on_the_canvas(marketer_page, live_server):  # noqa: F811
    page = marketer_page
    segment = Segment.objects.create(name=f"Seg {HOSTILE}", rules={})
    pool = CouponPool.objects.create(
        name=f"Pool {HOSTILE}", offer_kind="percent", offer_value=5, is_active=False
    )
    journey = journey_build(
        "Hostile",
        {
            "entry": ("entry", {"segment_id": segment.pk, "every": 1, "period": "days"}),
            f"Step {HOSTILE}": ("assign_coupon", {"pool_id": pool.pk}),
        },
        [("entry", "next", f"Step {HOSTILE}")],
        publish=False,
    )
    page.goto(f"{live_server.url}/journeys/{journey.pk}/editor/")
    step = node(page, f"Step {HOSTILE}")
    expect(step).to_be_visible()
    flag = step.locator(".je-flag-error")
    expect(flag).to_have_attribute("title", re.compile(re.escape(f"The pool “Pool {HOSTILE}” is inactive")))
    assert flag.get_attribute("onerror") is None
    step.hover()
    flag.hover()
    assert page.locator("#je-canvas img").count() == 0
    assert page.evaluate("window.__xss") is None
