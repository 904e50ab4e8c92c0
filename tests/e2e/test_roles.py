import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from journeys.models import Edge, Journey, Step
from journeys.services import journey_publish
from messaging.models import Channel, Message, MessageTemplate
from segments.models import Segment
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shop():
    contact = ContactFactory(first_name="Olga", email="olga@example.com")
    segment = Segment.objects.create(name="Everyone", rules={})
    journey = Journey.objects.create(name="Come back")
    Step.objects.create(
        journey=journey, name="Start", kind="entry", config={"segment_id": segment.pk, "every": 1}
    )
    Step.objects.create(journey=journey, name="Done", kind="end", y=100)
    Edge.objects.create(
        journey=journey,
        from_step=journey.steps.get(name="Start"),
        branch="next",
        to_step=journey.steps.get(name="Done"),
    )
    journey_publish(journey=journey)
    journey.refresh_from_db()
    template = MessageTemplate.objects.create(
        name="Winback email", channel=Channel.EMAIL, subject="Hi", text_body="Hi"
    )
    Message.objects.create(template=template, contact=contact, channel=Channel.EMAIL, idempotency_key="m1")
    return contact, segment, journey


def test_analyst_reads_everything_but_changes_nothing(analyst_page, live_server, shots):
    contact, segment, journey = _shop()
    page = analyst_page
    lists = {
        "/admin/contacts/contact/": "olga@example.com",
        "/admin/segments/segment/": "Everyone",
        "/admin/journeys/journey/": "Come back",
        "/admin/messaging/message/": "Olga",
        "/admin/messaging/messagetemplate/": "Winback email",
    }
    for url, text in lists.items():
        page.goto(f"{live_server.url}{url}")
        expect(page.locator("#result_list")).to_contain_text(text)
        expect(page.locator(".object-tools a.addlink")).to_have_count(0)  # no "Add …" button
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#content-main a.addlink")).to_have_count(0)
    expect(page.locator("#content-main a.changelink")).to_have_count(0)
    page.screenshot(path=str(shots / "analyst-index.png"), full_page=True)

    # A change page is read-only: no save buttons, the values as text.
    page.goto(f"{live_server.url}/admin/segments/segment/{segment.pk}/change/")
    expect(page.get_by_role("heading", name="View segment")).to_be_visible()
    expect(page.locator("input[name=_save]")).to_have_count(0)
    expect(page.locator("#id_name")).to_have_count(0)

    # Posting a change anyway (as a crafted form would) is refused with 403, not a CSRF failure.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/",
        form={"csrfmiddlewaretoken": csrf, "email": "hacked@example.com", "first_name": "Hacked"},
        headers={"Referer": f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/"},
    )
    assert response.status == 403
    assert "CSRF" not in response.text()
    assert Contact.objects.get(pk=contact.pk).email == "olga@example.com"


def test_analyst_cannot_see_api_tokens(analyst_page, live_server):
    page = analyst_page
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#nav-sidebar, #content-main").get_by_text("Api tokens")).to_have_count(0)
    response = page.goto(f"{live_server.url}/admin/contacts/apitoken/")
    assert response.status == 403


def test_analyst_cannot_pause_or_publish_a_journey(analyst_page, live_server):
    _, _, journey = _shop()
    assert journey.status == Journey.Status.ACTIVE
    page = analyst_page
    page.goto(f"{live_server.url}/admin/journeys/journey/")
    expect(page.locator("#result_list")).to_contain_text("Come back")
    offered = page.locator("select[name=action] option").all_inner_texts()
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    page.request.post(
        f"{live_server.url}/admin/journeys/journey/",
        form={"csrfmiddlewaretoken": csrf, "action": "pause", "_selected_action": str(journey.pk)},
        headers={"Referer": f"{live_server.url}/admin/journeys/journey/"},
    )
    journey.refresh_from_db()
    assert journey.status == Journey.Status.ACTIVE
    assert not any(word in " ".join(offered) for word in ("Publish", "Pause", "Resume", "Archive"))
