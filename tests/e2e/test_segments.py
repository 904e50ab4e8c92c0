import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contacts.models import Order
from segments.models import ContactScore, ScoringRun, Segment, SegmentSize
from segments.selectors import segment_contacts
from segments.services import scoring_run_execute
from tests.factories import ContactFactory, OrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shop() -> set[int]:
    """A small shop, scored; returns the ids of defecting contacts who agreed to email."""
    now = timezone.now()

    def buyer(days_ago: list[int], **fields):
        contact = ContactFactory(**fields)
        for days in days_ago:
            OrderFactory(contact=contact, placed_at=now - dt.timedelta(days=days), status=Order.Status.PAID)
        return contact

    wanted = {buyer([400, 200], first_name=f"Defecting{i}").pk for i in range(3)}
    for i in range(2):
        buyer([300, 150], first_name=f"NoConsent{i}", email_consent=False)
    buyer([100, 10], first_name="Active")
    buyer([600], first_name="Lost")
    ContactFactory(first_name="NeverBought")
    run = scoring_run_execute(run=ScoringRun.objects.create(), as_of=now)
    assert run.status == "done", run.error
    assert ContactScore.objects.filter(lifecycle_stage="defecting").count() == 5
    return wanted


def _count_is(page, value: str) -> None:
    expect(page.get_by_test_id("match-count")).to_have_text(value)


def test_marketer_builds_saves_and_evaluates_a_winback_segment(marketer_page, live_server, shots):
    wanted = _shop()
    page = marketer_page
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    _count_is(page, "8")  # empty rules: everyone

    page.get_by_label("Add condition:").select_option(label="Scores: Lifecycle stage")
    page.get_by_role("button", name="Add", exact=True).click()
    _count_is(page, "5")  # the example condition is "lifecycle stage in [defecting]"
    page.get_by_label("Add condition:").select_option(label="Consent: Email consent")
    page.get_by_role("button", name="Add", exact=True).click()
    _count_is(page, "3")
    preview = page.locator("#rules-preview")
    expect(preview).to_contain_text("Defecting0")
    expect(preview).not_to_contain_text("NoConsent")
    page.get_by_label("Name").fill("Defecting, emailable")
    page.screenshot(path=str(shots / "segment-editor.png"), full_page=True)

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist li.success")).to_contain_text("Defecting, emailable")
    segment = Segment.objects.get(name="Defecting, emailable")
    assert segment.rules == {
        "op": "and",
        "rules": [
            {"field": "lifecycle_stage", "operator": "in", "value": ["defecting"]},
            {"field": "email_consent", "operator": "is", "value": True},
        ],
    }
    row = page.get_by_role("row", name=re.compile("Defecting, emailable"))
    expect(row.locator("td.field-size_display")).to_have_text("not evaluated yet")

    row.get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Evaluate now (count and record the size)")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("Defecting, emailable: 3 contacts")
    row = page.get_by_role("row", name=re.compile("Defecting, emailable"))
    expect(row.locator("td.field-size_display")).to_have_text("3")
    segment.refresh_from_db()
    assert segment.size == 3 and SegmentSize.objects.filter(segment=segment, size=3).exists()
    assert set(segment_contacts(segment=segment).values_list("pk", flat=True)) == wanted
