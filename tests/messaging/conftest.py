"""Fixtures for messaging tests: a real SMTP sink (aiosmtpd) on a free localhost port, contacts, templates.

`smtp_sink` may move to tests/conftest.py when other apps want it.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import socket
import threading
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from contacts.models import Contact
from messaging.models import Channel, MessageTemplate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SmtpSink:
    host: str
    port: int
    received: list = field(default_factory=list)  # email.message.EmailMessage objects
    envelopes: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        parsed = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self.lock:
            self.envelopes.append(envelope)
            self.received.append(parsed)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink(settings):
    """A local SMTP server; settings send email to it with Django's SMTP backend."""
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = sink.host
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _messaging_settings(settings):
    settings.MESSAGING_EMAIL_RATE_PER_SECOND = 0
    settings.MESSAGING_SMS_RATE_PER_SECOND = 0
    settings.MESSAGING_PUSH_RATE_PER_SECOND = 0
    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 0  # a transient failure is due again at once
    settings.MESSAGING_SMS_BACKEND = "messaging.backends.sms.LocmemBackend"
    settings.MESSAGING_PUSH_BACKEND = "messaging.backends.push.LocmemBackend"
    settings.MESSAGING_SMS_FROM = "+15005550006"
    settings.MESSAGING_WEBHOOK_SECRET = "webhook-secret"
    settings.DEFAULT_FROM_EMAIL = "Shop <shop@example.com>"
    from messaging.backends import push, sms

    sms.outbox.clear()
    push.outbox.clear()


_numbers = itertools.count(1)


@pytest.fixture
def make_contact(db):
    def make(**fields) -> Contact:
        n = next(_numbers)
        values = {
            "email": f"contact{n}@example.com",
            "first_name": f"Ann{n}",
            "last_name": "Lee",
            "phone": f"+4915100000{n:03d}",
            "email_consent": True,
            "sms_consent": True,
            "push_consent": True,
        }
        values.update(fields)
        return Contact.objects.create(**values)

    return make


@pytest.fixture
def email_template(db):
    return MessageTemplate.objects.create(
        name="Winback email",
        channel=Channel.EMAIL,
        subject="We miss you, {{ contact.first_name }}",
        html_body=(
            "<html><body><p>Hi {{ contact.first_name }}, use {{ coupon.code }} before "
            '{{ coupon.expires_at|date:"Y-m-d" }}.</p>'
            '<p><a href="https://shop.example.com/sale?x=1&amp;y=2">Shop now</a></p>'
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
        ),
        text_body="Hi {{ contact.first_name }}, use {{ coupon.code }}.",
    )


@pytest.fixture
def sms_template(db):
    return MessageTemplate.objects.create(
        name="Winback SMS",
        channel=Channel.SMS,
        sms_text="Hi {{ contact.first_name }}, code {{ coupon.code }}",
    )


@pytest.fixture
def push_template(db):
    return MessageTemplate.objects.create(
        name="Winback push",
        channel=Channel.PUSH,
        push_title="Hi {{ contact.first_name }}",
        push_body="Your code: {{ coupon.code }}",
        push_url="https://shop.example.com/p/1",
    )
