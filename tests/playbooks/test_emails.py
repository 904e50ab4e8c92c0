"""Emails as sent: the coupon's expiry is a date, prices carry the shop's currency, the layout is there."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone

from coupons.models import Coupon
from journeys.demo import WINBACK_JOURNEY
from journeys.models import Journey
from journeys.services import journeys_tick

pytestmark = pytest.mark.django_db


def _html(message) -> str:
    return next(body for body, kind in message.alternatives if kind == "text/html")


def test_sent_email_shows_the_coupon_expiry_as_a_date(demo_shop, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    journey = Journey.objects.get(name=WINBACK_JOURNEY)  # seed_campaigns published it and let contacts in
    mail.outbox.clear()
    journeys_tick(now=timezone.now(), deliver="now", max_seconds=None)
    assert mail.outbox, "the demo win-back journey sent no email"
    message = mail.outbox[0]
    html = _html(message)
    code = re.search(r"WB15-[A-Z0-9]+", html).group(0)
    coupon = Coupon.objects.get(code=code)
    expected = f"{coupon.expires_at:%-d} {coupon.expires_at:%B} {coupon.expires_at:%Y}"
    assert "valid until )" not in html.lower() and "valid until\n)" not in html.lower()
    assert re.search(r"valid until\s+" + re.escape(expected), html, re.IGNORECASE), html
    assert journey.enrollments.exists()
    # The text part is written for text, not derived from the HTML (no CSS, no title).
    assert "@media" not in message.body and code in message.body
    assert re.search(r"valid until " + re.escape(expected), message.body), message.body


def test_sent_email_uses_the_shop_layout_and_currency(demo_shop, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.WINBACK_SHOP_NAME = "Nordlicht Mode"
    mail.outbox.clear()
    journeys_tick(now=timezone.now(), deliver="now", max_seconds=None)
    html = _html(mail.outbox[0])
    assert "Nordlicht Mode" in html  # header and footer
    assert "Email preferences" in html and "Unsubscribe" in html
    assert re.search(r"€\d+\.\d\d", html), "product prices carry the currency symbol"
    assert 'name="viewport"' in html and "max-width: 600px" in html
