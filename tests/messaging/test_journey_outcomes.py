"""A journey tells sent, failed and in doubt apart: "completed" never hides a message that did not go."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from journeys.models import Enrollment
from journeys.services import journey_enter, journeys_tick
from messaging.models import Message
from tests.journeys.conftest import contacts_make, journey_build

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


def journey_with_outcomes(email_template):
    """Four contacts complete entry -> email; their messages end sent, sent, in doubt, failed."""
    from segments.models import Segment

    everyone = Segment.objects.create(name="Everyone", rules={})
    journey = journey_build(
        "Spring win-back",
        {
            "entry": ("entry", {"segment_id": everyone.pk, "every": 1, "period": "days"}),
            "email": ("send_email", {"template_id": email_template.pk}),
        },
        [("entry", "next", "email")],
    )
    contacts_make(4, prefix="o")
    journey_enter(journey=journey)
    journeys_tick(deliver="now", max_seconds=None)
    ids = list(Message.objects.filter(journey_id=journey.pk).order_by("id").values_list("id", flat=True))
    Message.objects.filter(pk=ids[2]).update(
        status="in_doubt", reason="in doubt: handed to the provider, the worker stopped"
    )
    Message.objects.filter(pk=ids[3]).update(status="failed", reason="gave up after 5 attempts: 421 busy")
    return journey, ids


@pytest.mark.django_db
def test_journey_page_counts_sent_in_doubt_and_failed_and_links_to_the_retry(
    admin_client, smtp_sink, email_template
):
    journey, ids = journey_with_outcomes(email_template)
    assert Enrollment.objects.filter(journey=journey, state="completed").count() == 4
    text = admin_client.get(reverse("admin:journeys_journey_change", args=[journey.pk])).content.decode()
    assert "completed: 4" in text
    assert "messages: 2 sent, 1 in doubt, 1 failed, 0 waiting, 0 suppressed" in text
    link = f"?journey_id={journey.pk}&amp;status__in=failed,in_doubt"
    assert link in text
    step_id = Message.objects.get(pk=ids[2]).step_id
    assert f'{link}&amp;step_id={step_id}" data-retry-step="{step_id}">1 in doubt, 1 failed</a>' in text
    assert "step “email”" in text
    outbox = admin_client.get(
        reverse("admin:messaging_message_changelist"),
        {"journey_id": journey.pk, "status__in": "failed,in_doubt"},
    )
    assert sorted(m.pk for m in outbox.context["cl"].result_list) == ids[2:]


@pytest.mark.django_db
def test_step_history_shows_each_message_delivery_status(admin_client, smtp_sink, email_template):
    journey, ids = journey_with_outcomes(email_template)
    shown = {}
    for message in Message.objects.filter(pk__in=ids):
        url = f"/admin/journeys/enrollment/{message.enrollment_id}/explain/"
        text = admin_client.get(url).content.decode()
        shown[message.status] = text
    assert 'data-delivery="sent" title="">delivered' in shown["sent"]
    assert (
        'data-delivery="in_doubt"' in shown["in_doubt"] and "<strong>in doubt</strong>" in shown["in_doubt"]
    )
    assert 'data-delivery="failed"' in shown["failed"] and "<strong>failed</strong>" in shown["failed"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketer_sees_in_doubt_messages_and_retries_them(
    page, live_server, admin_user, email_template, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    journey, ids = journey_with_outcomes(email_template)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    enrollment = Message.objects.get(pk=ids[2]).enrollment_id
    page.goto(f"{live_server.url}/admin/journeys/enrollment/{enrollment}/explain/")
    assert page.inner_text("[data-delivery]") == "in doubt"
    page.screenshot(path=str(SCREENSHOTS / "enrollment-history-delivery.png"))
    page.goto(f"{live_server.url}{reverse('admin:journeys_journey_change', args=[journey.pk])}")
    page.screenshot(path=str(SCREENSHOTS / "journey-message-outcomes.png"))
    page.click("[data-retry-link]")
    page.wait_for_selector("#result_list")
    page.screenshot(path=str(SCREENSHOTS / "outbox-needs-attention.png"))
    page.check("#action-toggle")
    page.select_option("select[name=action]", "retry_failed")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "2 failed or in-doubt message(s) queued again" in page.inner_text(".messagelist")
    page.screenshot(path=str(SCREENSHOTS / "outbox-retried.png"))
