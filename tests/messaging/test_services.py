import datetime as dt

import pytest

from contacts.models import Contact
from messaging.models import Message
from messaging.services import Outgoing, messages_deliver, messages_queue

pytestmark = pytest.mark.django_db


def outgoing(contact, key=None, **context):
    return Outgoing(
        contact_id=contact.pk,
        idempotency_key=key or f"test:{contact.pk}",
        context=context or {"coupon": {"code": "SAVE10", "expires_at": dt.date(2030, 1, 31)}},
        journey_id=7,
        step_id=70,
        enrollment_id=700,
    )


def test_queue_and_deliver_email_arrives_with_parts_and_headers(smtp_sink, make_contact, email_template):
    contact = make_contact(first_name="Mia")
    ids = messages_queue(template=email_template, outgoing=[outgoing(contact)])
    report = messages_deliver(message_ids=ids)
    assert report.sent == ids
    assert len(smtp_sink.received) == 1
    mail = smtp_sink.received[0]
    assert mail["Subject"] == "We miss you, Mia"
    assert mail["To"] == contact.email
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "use SAVE10 before 2030-01-31" in html
    assert "Hi Mia, use SAVE10." in text
    assert "List-Unsubscribe=One-Click" == mail["List-Unsubscribe-Post"]
    assert "http://testserver/m/u/" in mail["List-Unsubscribe"]
    assert "mailto:shop@example.com" in mail["List-Unsubscribe"]
    assert "http://testserver/m/o/" in html  # open pixel
    assert "http://testserver/m/c/" in html  # tracked link
    assert "https://shop.example.com/sale" not in html  # ...replaced by the signed redirect
    message = Message.objects.get()
    assert message.status == Message.Status.SENT
    assert message.sent_at is not None
    assert message.subject == "We miss you, Mia"
    assert message.provider_message_id == mail["Message-ID"]
    assert (message.journey_id, message.step_id, message.enrollment_id) == (7, 70, 700)
