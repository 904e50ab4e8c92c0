"""A marketer creates each of the five playbooks from the gallery on the demo shop and publishes them."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from contacts.services.roles import MARKETER
from coupons.models import CouponPool
from coupons.services import coupons_generate
from journeys.models import Journey
from journeys.playbooks import playbooks_list
from tests.e2e.conftest import _user_in, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("test-results/screenshots")


@pytest.fixture
def demo_marketer(page, live_server, django_user_model):
    call_command("seed_demo", contacts=300, stdout=io.StringIO())
    call_command("seed_campaigns", codes=30, stdout=io.StringIO())
    _user_in(django_user_model, "mara", MARKETER)
    page.set_viewport_size({"width": 1366, "height": 768})
    return login(page, live_server, "mara")


def _codes_for_empty_pools() -> None:
    """What the marketer does next in the coupons admin (tested there): give the new pools codes."""
    for pool in CouponPool.objects.filter(codes_total=0):
        coupons_generate(pool=pool, count=20, prefix=f"P{pool.pk}-", length=6)


def test_marketer_creates_and_publishes_each_playbook(demo_marketer, live_server):
    page = demo_marketer
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/admin/journeys/journey/")
    page.get_by_test_id("playbooks-link").click()
    expect(page.locator("h1")).to_have_text("New journey from a playbook")
    expect(page.locator("[data-playbook]")).to_have_count(5)
    page.screenshot(path=str(SHOTS / "playbooks-gallery.png"), full_page=True)

    for playbook in playbooks_list():
        page.goto(f"{live_server.url}/journeys/playbooks/")
        card = page.locator(f'[data-playbook="{playbook.slug}"]')
        if playbook.slug == "clv-inactive-re-engagement":
            card.get_by_label("Start date").fill("2026-01-01")
            card.get_by_label("End date").fill("2027-12-31")
        if playbook.slug == "base-clean-up":
            expect(card.get_by_label("Inactive contacts at the end")).to_have_value("anonymize")
        card.get_by_role("button", name="Create draft journey").click()
        expect(page.locator(".messagelist li.success")).to_contain_text(
            f"Created the draft journey “{playbook.title}”"
        )
        page.screenshot(path=str(SHOTS / f"playbook-{playbook.slug}-created.png"), full_page=False)
        journey = Journey.objects.get(name=playbook.title)
        assert journey.status == Journey.Status.DRAFT

        _codes_for_empty_pools()
        page.goto(f"{live_server.url}/admin/journeys/journey/")
        page.get_by_role("row", name=re.compile(re.escape(playbook.title))).get_by_role("checkbox").check()
        page.get_by_label("Action:").select_option(label="Publish the draft as a new version (and activate)")
        page.get_by_role("button", name="Go").click()
        expect(page.locator(".messagelist li.success")).to_contain_text(
            f"{playbook.title}: version 1 published."
        )
        journey.refresh_from_db()
        assert journey.status == Journey.Status.ACTIVE
    page.screenshot(path=str(SHOTS / "playbooks-published.png"), full_page=True)
