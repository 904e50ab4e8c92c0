"""The visual editor in a real browser, as a marketer: build the low-CLV journey from scratch by
dragging and picking, fix what validation finds, publish, run entry now, run the engine and watch
the counts; then change a live journey and publish v2 with the contacts in flight moved."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from contacts.services.roles import MARKETER, roles_sync
from coupons.models import CouponPool
from coupons.services import coupons_generate
from journeys.models import Enrollment, Journey, Step
from journeys.services import journeys_tick
from messaging.models import MessageTemplate
from segments.models import Segment
from tests.journeys.conftest import contacts_make, journey_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(settings.BASE_DIR) / "test-results" / "screenshots"
DOCS_IMAGE = Path(settings.BASE_DIR) / "docs" / "images" / "editor.png"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture(autouse=True)
def patient_expect():
    """The machines are shared and loaded: wait on conditions longer than Playwright's 5 s default."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
def marketer_page(page, live_server, django_user_model):
    roles_sync()
    user = django_user_model.objects.create_user("mara", "mara@example.com", "password", is_staff=True)
    user.groups.add(Group.objects.get(name=MARKETER))
    page.set_viewport_size({"width": 1366, "height": 768})
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("mara")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def node(page, name: str):
    return page.locator("[data-step-key]").filter(
        has=page.locator(".je-node-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def drop(page, kind: str, x: int, y: int) -> None:
    keys = page.locator("[data-step-key]")
    before = set(keys.evaluate_all("els => els.map(e => e.dataset.stepKey)"))
    page.locator(f'.je-kind[data-kind="{kind}"]').drag_to(
        page.locator("#je-canvas"), target_position={"x": x, "y": y}
    )
    expect(keys).to_have_count(len(before) + 1)
    (added,) = set(keys.evaluate_all("els => els.map(e => e.dataset.stepKey)")) - before
    expect(page.locator(f'#je-panel [data-panel-step="{added}"][data-ready]')).to_be_visible()


def save_panel(page) -> None:
    page.locator("#je-panel").get_by_role("button", name="Save step").click()
    expect(page.locator("#je-panel [data-ready] [data-saved]")).to_be_visible()


def pick(page, field: str, search: str, option: str) -> None:
    panel = page.locator("#je-panel")
    panel.locator(f'[data-field="{field}"] .je-picker-search').fill(search)
    select = panel.locator(f"#id_step-{field}")
    expect(select.locator("option").first).to_contain_text(f"for “{search}”")  # the search has answered
    expect(select.locator("option", has_text=option)).to_have_count(1)
    select.select_option(label=select.locator("option", has_text=option).inner_text())


def connect(page, source: str, branch: str, target: str) -> None:
    edges = page.locator("svg.connection[data-branch]").count()
    port = node(page, source).locator(f'.output[data-branch="{branch}"]')
    port.hover()
    page.mouse.down()
    box = node(page, target).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20, steps=8)
    page.mouse.up()
    expect(page.locator("svg.connection[data-branch]")).to_have_count(edges + 1)


def test_marketer_builds_the_low_clv_journey_on_the_canvas(marketer_page, live_server):
    page = marketer_page
    Segment.objects.create(name="Low CLV", rules={}, size=12)
    Segment.objects.create(name="Email subscribers", rules={})
    pool = CouponPool.objects.create(name="Winback 15 %", offer_kind="percent", offer_value=15)
    coupons_generate(pool=pool, count=40)
    MessageTemplate.objects.create(
        name="We miss you",
        channel="email",
        subject="We miss you, {{ contact.first_name }}",
        html_body="<p>Here is 15 % off: {{ coupon.code }}</p>",
    )
    MessageTemplate.objects.create(name="SMS reminder", channel="sms", sms_text="Your code {{ coupon.code }}")
    contacts_make(12)

    page.goto(f"{live_server.url}/admin/journeys/journey/add/")
    page.get_by_label("Name").fill("Low CLV win-back")
    page.get_by_role("button", name="Save and continue editing").click()
    page.get_by_role("link", name="Open editor").click()
    expect(page.locator("#je-canvas")).to_be_visible()
    shot(page, "editor-empty")

    drop(page, "entry", 110, 70)
    pick(page, "segment", "low", "Low CLV")
    page.locator("#je-panel #id_step-name").fill("Low CLV, daily")
    page.locator("#je-panel").get_by_label("Every N minutes, hours or days").check()
    page.locator("#je-panel #id_step-every").fill("1")
    page.locator("#je-panel #id_step-period").select_option("days")
    save_panel(page)
    expect(node(page, "Low CLV, daily")).to_contain_text("Contacts of “Low CLV”, every day")

    drop(page, "in_segment", 370, 70)
    pick(page, "segment", "mail", "Email subscribers")
    page.locator("#je-panel #id_step-name").fill("Still subscribed?")
    save_panel(page)

    drop(page, "assign_coupon", 630, 70)
    pick(page, "pool", "winback", "Winback 15 %")
    expect(page.locator("#je-panel #id_step-pool")).to_contain_text("40 codes available")
    page.locator("#je-panel #id_step-name").fill("15 % code")
    save_panel(page)

    drop(page, "send_email", 630, 330)
    pick(page, "template", "miss", "We miss you")
    expect(page.locator("#je-panel [data-preview]")).to_contain_text("We miss you, {{ contact.first_name }}")
    expect(page.locator("#je-panel #id_step-template option", has_text="SMS reminder")).to_have_count(0)
    page.locator("#je-panel #id_step-name").fill("We miss you")
    save_panel(page)

    drop(page, "wait", 370, 330)
    page.locator("#je-panel #id_step-name").fill("A week")
    page.locator("#je-panel #id_step-amount").fill("0")
    page.locator("#je-panel").get_by_role("button", name="Save step").click()
    expect(page.locator('#je-panel [data-error-for="amount"]')).to_contain_text("longer than zero")
    page.locator("#je-panel #id_step-amount").fill("7")
    page.locator("#je-panel #id_step-unit").select_option("days")
    save_panel(page)
    expect(node(page, "A week")).to_contain_text("Wait 7 days")

    connect(page, "Low CLV, daily", "next", "Still subscribed?")
    connect(page, "Still subscribed?", "yes", "15 % code")
    connect(page, "Still subscribed?", "no", "A week")
    connect(page, "15 % code", "next", "We miss you")
    expect(page.locator('svg.connection[data-branch="yes"]')).to_have_count(1)
    expect(page.locator('svg.connection[data-branch="no"]')).to_have_count(1)
    expect(node(page, "15 % code").locator('.output[data-branch="exhausted"]')).to_have_class(
        re.compile("je-loose")
    )

    # Publishing is refused while a step cannot be reached... (the wait hangs on "no" already: add an
    # orphan end step to see the refusal, then connect it).
    drop(page, "end", 110, 360)
    page.locator('[data-action="close-panel"]').click()
    page.locator('[data-action="publish"]').click()
    expect(page.locator("[data-publish-refused]")).to_be_visible()
    expect(page.locator('[data-problems="error"]')).to_contain_text("Nothing leads here")
    shot(page, "editor-publish-refused")
    page.locator('[data-action="close-dialog"]').click()
    connect(page, "A week", "next", "End")

    page.locator('[data-action="publish"]').click()
    expect(page.locator('[data-problems="warning"]')).to_contain_text("exhausted")
    page.locator('[data-action="publish-confirm"]').click()
    expect(page.locator("[data-published]")).to_contain_text("version 1")
    page.locator('[data-action="close-dialog"]').click()
    expect(page.locator("[data-status]")).to_have_text("Active")
    journey = Journey.objects.get(name="Low CLV win-back")
    assert journey.current_version.number == 1

    page.locator('[data-action="dry-run"]').click()
    expect(page.locator("[data-dry-run-count]")).to_have_attribute("data-dry-run-count", "12")
    page.locator('[data-action="close-dialog"]').click()
    assert not Enrollment.objects.exists()

    page.locator('[data-action="run-entry"]').click()
    expect(page.locator("[data-dialog-title]")).to_have_text("12 contacts entered the journey.")
    page.locator('[data-action="close-dialog"]').click()
    journeys_tick(deliver="now")  # the engine, in process (and the mail goes out)
    code = node(page, "15 % code")
    expect(code.locator('[data-count="passed"]')).to_have_text("12 passed", timeout=25_000)
    expect(node(page, "We miss you")).to_contain_text("12 sent", timeout=25_000)  # delivered after commit
    expect(page.locator('svg.connection[data-branch="yes"] text')).to_have_text("yes · 12")
    page.locator('[data-action="layout"]').click()
    expect(node(page, "A week")).to_have_attribute("style", re.compile("left: 670px"))
    shot(page, "editor-live")
    DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGE))
    code.locator('[data-count="passed"]').click()
    expect(page.locator("[data-count-contacts] a", has_text="explain")).to_have_count(12)
    shot(page, "editor-count-contacts")


def test_marketer_changes_a_live_journey_and_moves_contacts_to_v2(marketer_page, live_server):
    page = marketer_page
    everyone = Segment.objects.create(name="Everyone", rules={})
    journey = journey_build(
        "Reminder",
        {
            "Start": ("entry", {"segment_id": everyone.pk, "every": 1, "period": "days"}),
            "Three days": ("wait", {"days": 3}),
            "Done": ("end", {}),
        },
        [("Start", "next", "Three days"), ("Three days", "next", "Done")],
    )
    Step.objects.filter(journey=journey, version=None, name="Three days").update(x=320, y=40)
    Step.objects.filter(journey=journey, version=None, name="Done").update(x=620, y=40)
    contacts_make(5)
    from journeys.services import journey_enter

    journey_enter(journey=journey)
    journeys_tick()
    assert Enrollment.objects.filter(journey=journey, state="waiting").count() == 5

    page.goto(f"{live_server.url}/journeys/{journey.pk}/editor/")
    expect(node(page, "Three days").locator('[data-count="waiting"]')).to_have_text("5 waiting")
    node(page, "Three days").click()
    page.locator("#je-panel #id_step-amount").fill("1")
    save_panel(page)
    expect(node(page, "Three days")).to_contain_text("Wait 1 day")
    page.locator('[data-action="changes"]').click()
    expect(page.locator('[data-changes="changed"]')).to_contain_text("Wait 3 days")
    expect(page.locator('[data-changes="changed"]')).to_contain_text("Wait 1 day")
    shot(page, "editor-what-changes")
    page.locator('[data-action="close-dialog"]').click()

    page.locator('[data-action="publish"]').click()
    page.locator('[data-action="publish-confirm"]').click()
    expect(page.locator("[data-in-flight]")).to_contain_text("5 contacts")
    shot(page, "editor-published-v2")
    page.locator('[data-action="move-contacts"]').click()
    page.get_by_role("button", name=re.compile("Move")).click()
    expect(page.locator(".messagelist li.success")).to_contain_text("moved 5 contacts")
    journey.refresh_from_db()
    assert journey.current_version.number == 2
    assert Enrollment.objects.filter(journey=journey, version=journey.current_version).count() == 5


def _small_draft() -> Journey:
    everyone = Segment.objects.create(name="Everyone", rules={})
    journey = journey_build(
        "Keyboard",
        {
            "Start": ("entry", {"segment_id": everyone.pk, "every": 1, "period": "days"}),
            "Two days": ("wait", {"days": 2}),
            "Done": ("end", {}),
        },
        [("Start", "next", "Two days"), ("Two days", "next", "Done")],
        publish=False,
    )
    for name, x in (("Start", 30), ("Two days", 330), ("Done", 700)):
        Step.objects.filter(journey=journey, name=name).update(x=x, y=40)
    return journey


def test_keyboard_moves_deletes_and_undoes_and_edges_can_be_removed(marketer_page, live_server):
    page = marketer_page
    journey = _small_draft()
    page.goto(f"{live_server.url}/journeys/{journey.pk}/editor/")
    wait = node(page, "Two days")
    wait.focus()
    page.keyboard.press("ArrowRight")
    expect(wait).to_have_attribute("style", re.compile("left: 350px"))
    page.wait_for_function("JourneyEditor.state.graph.steps.find(s => s.name === 'Two days').x === 350")
    assert Step.objects.get(journey=journey, name="Two days").x == 350
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("JourneyEditor.state.graph.steps.find(s => s.name === 'Two days').y === 80")
    expect(page.locator("[data-flash]")).to_be_hidden()  # no "someone else changed it"
    assert Step.objects.get(journey=journey, name="Two days").y == 80
    node(page, "Two days").focus()
    page.keyboard.press("Delete")
    expect(page.locator("[data-step-key]")).to_have_count(2)
    expect(page.locator("svg.connection[data-branch]")).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(page.locator("[data-step-key]")).to_have_count(3)
    expect(page.locator("svg.connection[data-branch]")).to_have_count(2)
    assert Step.objects.filter(journey=journey, version=None).count() == 3

    wait_key = node(page, "Two days").get_attribute("data-step-key")
    x, y = page.locator(f'svg.connection[data-from="{wait_key}"] path.main-path').evaluate(
        "p => { const m = p.getScreenCTM(), q = p.getPointAtLength(p.getTotalLength() / 2);"
        " return [q.x * m.a + m.e, q.y * m.d + m.f]; }"
    )
    page.mouse.click(x, y)
    page.keyboard.press("Delete")
    expect(page.locator("svg.connection[data-branch]")).to_have_count(1)
    expect(node(page, "Two days").locator('.output[data-branch="next"]')).to_have_class(
        re.compile("je-loose")
    )
    page.locator('[data-action="undo"]').click()
    expect(page.locator("svg.connection[data-branch]")).to_have_count(2)
    page.locator('[data-action="redo"]').click()
    expect(page.locator("svg.connection[data-branch]")).to_have_count(1)
    done = node(page, "Done").locator(".je-node-name")
    box = done.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 10, box["y"] + 205, steps=10)
    page.mouse.up()
    page.wait_for_function(  # the server has answered with the new position
        "JourneyEditor.state.graph.steps.find(s => s.name === 'Done').y > 150"
    )
    moved = Step.objects.get(journey=journey, version=None, name="Done")
    assert moved.y > 150  # 200 screen pixels down, whatever the zoom that fits the graph
    expect(node(page, "Done")).to_have_attribute("style", re.compile(f"top: {moved.y}px"))
    shot(page, "editor-keyboard")


def test_analyst_sees_the_editor_read_only(page, live_server, django_user_model):
    from contacts.services.roles import ANALYST

    journey = _small_draft()
    roles_sync()
    user = django_user_model.objects.create_user("ana", "ana@example.com", "password", is_staff=True)
    user.groups.add(Group.objects.get(name=ANALYST))
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/journeys/{journey.pk}/editor/")
    expect(page.get_by_text("Read only: you may view this journey.")).to_be_visible()
    expect(page.locator('[data-action="publish"]')).to_have_count(0)
    expect(page.locator(".je-kind[draggable]")).to_have_count(0)
    node(page, "Two days").click()
    expect(page.locator("#je-panel #id_step-amount")).to_be_disabled()
    expect(page.locator("#je-panel").get_by_role("button", name="Save step")).to_have_count(0)
    shot(page, "editor-read-only")
