import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from journeys.models import Edge, Enrollment, Journey, Step
from journeys.services import journey_enter, journeys_tick
from segments.models import Segment
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _journey_action(page, name: str, action: str) -> None:
    page.get_by_role("row", name=re.compile(name)).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label=action)
    page.get_by_role("button", name="Go").click()


def _add_step(page, index: int, name: str, kind: str, config: dict) -> None:
    page.get_by_text("Add another Step (draft)").click()
    page.locator(f"#id_steps-{index}-name").fill(name)
    page.locator(f"#id_steps-{index}-kind").select_option(label=kind)
    page.locator(f"#id_steps-{index}-config").fill(json.dumps(config))


def _add_edge(page, index: int, source: str, branch: str, target: str) -> None:
    page.get_by_text("Add another Edge (draft)").click()
    page.locator(f"#id_edges-{index}-from_step").select_option(label=source)
    page.locator(f"#id_edges-{index}-branch").fill(branch)
    page.locator(f"#id_edges-{index}-to_step").select_option(label=target)


def _status_cell(page, name: str):
    return page.get_by_role("row", name=re.compile(name)).locator("td.field-status")


def test_marketer_builds_publishes_pauses_a_journey_and_explains_an_enrollment(
    marketer_page, live_server, shots
):
    everyone = Segment.objects.create(name="Everyone", rules={})
    contact = ContactFactory(first_name="Jana", email="jana@example.com")
    page = marketer_page

    # The draft: steps first (edges pick from the saved draft's steps).
    page.goto(f"{live_server.url}/admin/journeys/journey/add/")
    page.get_by_label("Name").fill("Come back")
    steps = [
        ("Start", "Entry (segment)", {"segment_id": everyone.pk, "every": 1, "period": "days"}),
        ("Two days", "Wait", {"days": 2}),
        ("Done", "End", {}),
    ]
    for index, (name, kind, config) in enumerate(steps):
        _add_step(page, index, name, kind, config)
        page.get_by_role("button", name="Save and continue editing").click()
        expect(page.locator(".messagelist li.success")).to_contain_text("Come back")
    journey = Journey.objects.get(name="Come back")
    assert Step.objects.filter(journey=journey, version=None).count() == 3

    _add_edge(page, 0, "Start (Entry (segment))", "next", "Two days (Wait)")
    _add_edge(page, 1, "Two days (Wait)", "next", "Done (End)")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist li.success")).to_contain_text("Come back")
    assert Edge.objects.filter(journey=journey, version=None).count() == 2
    graph = page.locator("div.field-graph")
    expect(graph).to_contain_text("next → Two days")
    expect(graph).to_contain_text("next → Done")
    page.screenshot(path=str(shots / "journey-draft.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/journeys/journey/")
    expect(_status_cell(page, "Come back")).to_have_text("Draft")
    _journey_action(page, "Come back", "Publish the draft as a new version (and activate)")
    expect(page.locator(".messagelist li.success")).to_contain_text("Come back: version 1 published.")
    expect(_status_cell(page, "Come back")).to_have_text("Active")
    journey.refresh_from_db()
    assert journey.status == Journey.Status.ACTIVE and journey.current_version.number == 1

    # A beat run, in process: the contact enters and the tick moves it to the wait.
    now = timezone.now()
    journey_enter(journey=journey, now=now)
    journeys_tick(now=now, deliver="", max_seconds=None)
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.step.name == "Two days"

    page.reload()
    row = page.get_by_role("row", name=re.compile("Come back"))
    expect(row.locator("td.field-in_flight")).to_have_text("1")
    _journey_action(page, "Come back", "Pause (contacts hold where they are)")
    expect(page.locator(".messagelist li.success")).to_contain_text("Come back: paused.")
    expect(_status_cell(page, "Come back")).to_have_text("Paused")
    journey.refresh_from_db()
    assert journey.status == Journey.Status.PAUSED

    page.goto(f"{live_server.url}/admin/journeys/enrollment/")
    row = page.get_by_role("row", name=re.compile("jana@example.com|Jana"))
    row.get_by_role("link", name="explain").click()
    content = page.locator("#content-main")
    expect(content).to_contain_text("Journey Come back (Paused)")
    expect(content).to_contain_text("Current step: Two days")
    due = timezone.localtime(enrollment.due_at).strftime("%Y-%m-%d %H:%M")
    expect(content).to_contain_text(f"Moves next: {due}")
    expect(content).to_contain_text("The journey is paused")
    expect(content.locator("table")).to_contain_text("Start")
    page.screenshot(path=str(shots / "journey-explain.png"), full_page=True)


def test_marketer_adds_several_steps_in_one_save(marketer_page, live_server):
    page = marketer_page
    page.goto(f"{live_server.url}/admin/journeys/journey/add/")
    page.get_by_label("Name").fill("Two at once")
    _add_step(page, 0, "Wait a day", "Wait", {"days": 1})
    _add_step(page, 1, "Done", "End", {})
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist li.success")).to_contain_text("Two at once", timeout=3_000)
    assert Step.objects.filter(journey__name="Two at once").count() == 2
