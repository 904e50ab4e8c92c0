"""Template preview at 600 px and 360 px for a chosen contact, test email to a typed address, and
screenshots of every playbook and demo email at both widths (test-results/screenshots/email-*.png)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import expect

from contacts.models import Contact
from journeys.playbooks import playbook_create, playbooks_list
from messaging.models import MessageTemplate
from messaging.rendering import template_render
from messaging.selectors import sample_context
from messaging.test_send import template_test_send

SHOTS = Path("test-results/screenshots")


@pytest.fixture
def shop_with_playbooks(db):
    call_command("seed_demo", contacts=200, stdout=io.StringIO())
    call_command("seed_campaigns", codes=20, stdout=io.StringIO())
    for playbook in playbooks_list():
        playbook_create(playbook=playbook, prefix="Preview")


def _buyer() -> Contact:
    return Contact.objects.filter(orders__isnull=False, first_name__gt="").order_by("pk").first()


def test_test_email_goes_to_the_typed_address_untracked(shop_with_playbooks, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    template = MessageTemplate.objects.get(name="Preview Low CLV: your code")
    template_test_send(template=template, to=" me@example.org ", contact=_buyer())
    (sent,) = mail.outbox
    assert sent.to == ["me@example.org"] and sent.subject.startswith("[Test] ")
    html = sent.alternatives[0][0]
    assert "/m/o/" not in html and "/m/c/" not in html
    assert "WELCOME-BACK-1234" in html  # the sample code, with its date
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="not one email address"):
        template_test_send(template=template, to="me@example.org, you@example.org")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_preview_shows_both_widths_and_sends_a_test_email(page, live_server, settings, admin_user):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo", contacts=200, stdout=io.StringIO())
    call_command("seed_campaigns", codes=20, stdout=io.StringIO())
    playbook_create(playbook=playbooks_list()[1], prefix="Preview")  # Low-CLV coupon
    template = MessageTemplate.objects.get(name="Preview Low CLV: your code")
    contact = _buyer()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.goto(
        f"{live_server.url}/admin/messaging/messagetemplate/{template.pk}/preview/?contact={contact.pk}"
    )
    frame = page.locator("#preview iframe")
    expect(frame).to_have_attribute("data-width", "600")
    assert frame.bounding_box()["width"] == 602  # 600 px inside, 1 px border each side
    expect(page.frame_locator("#preview iframe").locator("body")).to_contain_text(contact.first_name)
    page.screenshot(path=str(SHOTS / "template-preview-600.png"), full_page=True)
    page.get_by_role("button", name="Phone, 360 px").click()
    expect(frame).to_have_attribute("data-width", "360")
    assert frame.bounding_box()["width"] == 362
    expect(page.frame_locator("#preview iframe").locator("body")).to_contain_text("Valid until")
    page.screenshot(path=str(SHOTS / "template-preview-360.png"), full_page=True)
    page.get_by_label("Send a test email to").fill("marketer@example.org")
    page.get_by_role("button", name="Send test email").click()
    expect(page.locator(".messagelist li.success")).to_contain_text("Test email sent to marketer@example.org")
    assert [m.to for m in mail.outbox] == [["marketer@example.org"]]
    assert contact.first_name in mail.outbox[0].alternatives[0][0]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_every_playbook_and_demo_email_at_600_and_360_px(page, live_server):
    call_command("seed_demo", contacts=200, stdout=io.StringIO())
    call_command("seed_campaigns", codes=20, stdout=io.StringIO())
    for playbook in playbooks_list():
        playbook_create(playbook=playbook)
    contact = _buyer()
    SHOTS.mkdir(parents=True, exist_ok=True)
    templates = MessageTemplate.objects.filter(channel="email").order_by("name")
    assert templates.count() >= 14
    for template in templates:
        html = template_render(
            template=template, context=sample_context(contact=contact), message_id=None, track=False
        ).html
        assert "valid until )" not in html.lower()
        for width in (600, 360):
            page.set_viewport_size({"width": width, "height": 800})
            page.set_content(html)
            # Nothing sticks out sideways: the layout fits the phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, (template.name, width)
            name = "".join(c if c.isalnum() else "-" for c in template.name.lower()).strip("-")
            page.screenshot(path=str(SHOTS / f"email-{name}-{width}.png"), full_page=True)
