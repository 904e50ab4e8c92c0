"""The "Received mail (sink)" viewer: UTF-8 shown as written, and viewing never records an open or click."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.mail import EmailMultiAlternatives
from playwright.sync_api import expect

from messaging.mail_sink_view import untracked_html
from messaging.management.commands.mail_sink import store
from messaging.models import Message
from messaging.rendering import add_open_pixel, track_links
from tests.factories import ContactFactory

SHOTS = Path("test-results/screenshots")
HTML = (
    '<html><head><meta charset="utf-8"></head><body><h1>Grüße aus Köln</h1><p>10 € Rabatt – nur für dich.</p>'
    '<p><a href="https://shop.example.com/p/sku-1">Zum Produkt</a></p></body></html>'
)


def _sent_mail(settings) -> tuple[Message, object]:
    contact = ContactFactory(first_name="Jürgen", email="juergen@example.com")
    message = Message.objects.create(
        contact=contact,
        channel="email",
        idempotency_key="sink-viewer-test",
        status="sent",
        to_address=contact.email,
    )
    html = add_open_pixel(track_links(HTML, message_id=message.pk), message_id=message.pk)
    assert "/m/o/" in html and "/m/c/" in html
    email = EmailMultiAlternatives(
        "Grüße – 10 € für dich", "Grüße aus Köln: 10 € Rabatt", "shop@example.com", [contact.email]
    )
    email.attach_alternative(html, "text/html")
    received = store(
        mail_from="shop@example.com", recipients=[contact.email], content=email.message().as_bytes()
    )
    return message, received


def test_untracked_html_drops_the_pixel_and_unwraps_click_links(db, settings):
    message, received = _sent_mail(settings)
    tracked = add_open_pixel(track_links(HTML, message_id=message.pk), message_id=message.pk)
    shown = untracked_html(tracked)
    assert "/m/o/" not in shown and "/m/c/" not in shown
    assert 'href="https://shop.example.com/p/sku-1"' in shown


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_viewing_a_received_mail_shows_utf8_and_records_no_open_or_click(
    page, live_server, settings, admin_user
):
    settings.SITE_URL = live_server.url  # so the pixel, if shown, would reach this server
    message, received = _sent_mail(settings)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/messaging/receivedmail/{received.pk}/change/")
    expect(page.locator("div.field-subject")).to_contain_text("Grüße – 10 € für dich")
    expect(page.locator("div.field-text_part")).to_contain_text("Grüße aus Köln: 10 € Rabatt")
    frame = page.frame_locator("div.field-html_part iframe")
    expect(frame.locator("h1")).to_have_text("Grüße aus Köln")
    expect(frame.locator("p").first).to_contain_text("10 € Rabatt – nur für dich.")
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "received-mail-viewer.png"), full_page=True)
    message.refresh_from_db()
    assert message.opened_at is None and message.clicked_at is None
