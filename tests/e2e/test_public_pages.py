import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from contacts.models import Contact
from messaging.models import Channel, MessageTemplate
from messaging.services import Outgoing, messages_deliver, messages_queue
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sent_email(settings, live_server):
    """A real winback email delivered through the locmem backend, links pointing at the live server."""
    settings.SITE_URL = live_server.url
    settings.MESSAGING_EMAIL_RATE_PER_SECOND = 0
    settings.DEFAULT_FROM_EMAIL = "Shop <shop@example.com>"
    contact = ContactFactory(
        first_name="Paula", email="paula@example.com", phone="+4915100000001", sms_consent=True
    )
    template = MessageTemplate.objects.create(
        name="We miss you",
        channel=Channel.EMAIL,
        subject="We miss you, {{ contact.first_name }}",
        html_body='<p>Hi {{ contact.first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
        text_body="Hi {{ contact.first_name }}",
    )
    ids = messages_queue(
        template=template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="e2e:1", context={})]
    )
    messages_deliver(message_ids=ids)
    assert len(mail.outbox) == 1
    return contact, mail.outbox[0]


def test_contact_unsubscribes_from_the_list_unsubscribe_link(page, sent_email, live_server, shots):
    contact, email = sent_email
    url = re.match(r"<(https?://[^>]+)>", email.extra_headers["List-Unsubscribe"]).group(1)
    assert url.startswith(live_server.url)

    page.goto(url)
    expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Stop receiving marketing emails at paula@example.com?")
    page.screenshot(path=str(shots / "unsubscribe-confirm.png"), full_page=True)
    assert Contact.objects.get(pk=contact.pk).email_consent is True  # opening the link changes nothing

    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    expect(page.locator("body")).to_contain_text("We will not send you marketing emails at paula@example.com")
    page.screenshot(path=str(shots / "unsubscribed.png"), full_page=True)
    contact.refresh_from_db()
    assert contact.email_consent is False
    assert contact.sms_consent is True  # only the channel of the email


def test_contact_turns_sms_off_on_the_preferences_page(page, sent_email, live_server, shots):
    contact, email = sent_email
    url = re.match(r"<(https?://[^>]+)>", email.extra_headers["List-Unsubscribe"]).group(1)
    page.goto(url)
    page.get_by_role("link", name="choose which messages you get").click()
    expect(page.get_by_role("heading", name="Your preferences")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_checked()
    expect(page.get_by_label("Text messages (SMS)")).to_be_checked()

    page.get_by_label("Text messages (SMS)").uncheck()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("Text messages (SMS)")).not_to_be_checked()
    expect(page.get_by_label("Email")).to_be_checked()
    page.screenshot(path=str(shots / "preferences-saved.png"), full_page=True)
    contact.refresh_from_db()
    assert (contact.email_consent, contact.sms_consent) == (True, False)

    page.get_by_label("Text messages (SMS)").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    contact.refresh_from_db()
    assert contact.sms_consent is True
