"""Delivery outcomes: transient failures retried with back-off, permanent ones failed, in doubt kept
apart, the lease, and retries that a deduplicating receiver sees once (README "Guarantees")."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import smtplib

import pytest
from aiosmtpd.controller import Controller
from django.utils.timezone import now

from messaging.models import Message
from messaging.services import (
    Lease,
    Outgoing,
    message_id_header,
    messages_deliver,
    messages_queue,
    messages_recover_expired,
    messages_retry,
    retry_delay,
    send_error_kind,
)
from messaging.services.claims import DeliveryReport
from tests.messaging.conftest import free_port

pytestmark = pytest.mark.django_db


def outgoing(contact, key: str | None = None) -> Outgoing:
    return Outgoing(contact_id=contact.pk, idempotency_key=key or f"k{contact.pk}", context={})


class ScriptedSink:
    """An SMTP server that answers DATA with the next scripted reply, and (dedupe=True) stores a
    Message-ID only once, like a receiver that deduplicates."""

    def __init__(self, replies: list[str] | None = None, *, dedupe: bool = False):
        self.replies = list(replies or [])
        self.dedupe = dedupe
        self.stored: dict[str, int] = {}
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        parsed = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        message_id = str(parsed["Message-ID"])
        if self.dedupe and message_id in self.stored:
            return "250 Duplicate Message-ID, dropped"
        self.stored[message_id] = self.stored.get(message_id, 0) + 1
        return "250 OK"


@pytest.fixture
def scripted(settings):
    controllers = []

    def start(*args, **kwargs) -> ScriptedSink:
        sink = ScriptedSink(*args, **kwargs)
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        return sink

    yield start
    for controller in controllers:
        controller.stop()


def test_smtp_4xx_is_retried_with_back_off_then_sent(scripted, settings, make_contact, email_template):
    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 60
    sink = scripted(["451 4.3.0 Try again later"])
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    report = messages_deliver(message_ids=ids)
    assert (report.retrying, report.retry_in) == (ids, 60.0)
    message = Message.objects.get()
    assert message.status == "queued" and message.attempts == 1 and "451" in message.reason
    assert message.next_attempt_at > now() + dt.timedelta(seconds=50)
    assert messages_deliver(message_ids=ids).skipped == ids  # not due yet
    Message.objects.update(next_attempt_at=now())
    assert messages_deliver(message_ids=ids).sent == ids
    assert Message.objects.get().attempts == 2 and sink.stored and sink.attempts == 2


def test_a_transient_failure_fails_after_the_maximum_attempts(
    scripted, settings, make_contact, email_template
):
    settings.MESSAGING_MAX_ATTEMPTS = 3
    scripted(["421 4.7.0 Busy"] * 5)
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    outcomes = [messages_deliver(message_ids=ids) for _ in range(3)]
    assert [bool(r.retrying) for r in outcomes] == [True, True, False]
    assert outcomes[-1].failed == ids
    message = Message.objects.get()
    assert message.status == "failed" and message.reason.startswith("gave up after 3 attempts")


def test_smtp_5xx_fails_at_once(scripted, make_contact, email_template):
    scripted(["550 5.1.1 No such user"])
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    assert messages_deliver(message_ids=ids).failed == ids
    assert "550" in Message.objects.get().reason


def test_back_off_doubles_up_to_an_hour(settings):
    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 60
    assert [retry_delay(n) for n in (1, 2, 3, 7, 20)] == [60, 120, 240, 3600, 3600]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(111, "refused"), "retry"),
        (smtplib.SMTPDataError(451, b"later"), "retry"),
        (smtplib.SMTPDataError(554, b"rejected"), "failed"),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"mailbox busy")}), "retry"),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}), "failed"),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "in_doubt"),
        (TimeoutError("timed out"), "in_doubt"),
        (ValueError("bad header"), "failed"),
    ],
)
def test_send_errors_are_classified(error, kind):
    assert send_error_kind(error) == kind


def test_retrying_an_in_doubt_email_reaches_a_deduplicating_receiver_once(
    scripted, make_contact, email_template
):
    """The worker died after the server accepted the email: in doubt. A retry carries the same
    Message-ID, so a receiver that deduplicates keeps one copy."""
    sink = scripted(dedupe=True)
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact(), "enrollment:7:step:3")])
    messages_deliver(message_ids=ids)
    Message.objects.update(status="in_doubt", reason="in doubt: the worker stopped")  # outcome lost
    assert messages_retry(message_ids=ids) == ids
    assert messages_deliver(message_ids=ids).sent == ids
    assert sink.attempts == 2
    assert sink.stored == {message_id_header("enrollment:7:step:3"): 1}


def test_retry_leaves_sent_queued_and_suppressed_messages_alone(make_contact, email_template, smtp_sink):
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact()) for _ in range(3)])
    messages_deliver(message_ids=ids[:1])
    Message.objects.filter(pk=ids[2]).update(status="suppressed")
    assert messages_retry(message_ids=ids) == []
    assert list(Message.objects.order_by("id").values_list("status", flat=True)) == [
        "sent",
        "queued",
        "suppressed",
    ]


def test_a_claim_the_sweep_took_back_is_never_started(smtp_sink, make_contact, email_template):
    """A slow worker whose lease ran out: the sweep gave its unstarted claim to another worker, so
    the slow one must not hand it over too."""
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    slow = Lease(DeliveryReport())
    (message,) = slow.claim(ids)
    Message.objects.update(lease_until=now() - dt.timedelta(seconds=1))
    assert messages_recover_expired().requeued == 1
    assert messages_deliver(message_ids=ids).sent == ids  # the other worker
    assert slow.start(message) is False
    assert len(smtp_sink.received) == 1


def test_an_answer_after_the_sweep_called_it_in_doubt_is_still_recorded(
    smtp_sink, make_contact, email_template
):
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    lease = Lease(DeliveryReport())
    (message,) = lease.claim(ids)
    assert lease.start(message)
    Message.objects.update(lease_until=now() - dt.timedelta(seconds=1))  # the send is slow
    assert messages_recover_expired().in_doubt == 1
    lease.sent(message, provider_id="<x@example.com>", subject="Hi")  # the server answered after all
    lease.flush()  # written with the next start or write, or at the end of the delivery call
    assert Message.objects.get().status == "sent"


def test_rows_left_sending_by_the_old_batch_delivery_become_in_doubt_not_resent(
    smtp_sink, make_contact, email_template
):
    """Before leases, a batch was claimed whole and outcomes were buffered: such a row may have
    been sent, so the sweep never puts it back in the queue."""
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    Message.objects.update(status="sending", claim_token="old", claimed_at=now() - dt.timedelta(hours=1))
    assert messages_recover_expired().in_doubt == 1
    assert messages_deliver(message_ids=ids).sent == []
    assert smtp_sink.received == []


def test_the_deliver_task_schedules_the_next_attempt_itself(scripted, settings, make_contact, email_template):
    """The task hands retrying messages to a later task (countdown = back-off; eager here)."""
    from messaging import tasks
    from winback.celery import app

    sink = scripted(["421 4.7.0 Busy", "451 4.3.0 Later"])
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    previous, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        tasks.deliver(ids)
    finally:
        app.conf.task_always_eager = previous
    message = Message.objects.get()
    assert (message.status, message.attempts, sink.attempts) == ("sent", 3, 3)


@pytest.mark.parametrize("change", ["unsubscribed", "anonymized"])
def test_a_retried_message_of_a_contact_who_unsubscribed_or_was_erased_is_suppressed_not_sent(
    change, smtp_sink, make_contact, email_template
):
    """Retry re-checks consent: the contact unsubscribed or was erased after the message failed."""
    from contacts.services.forget import contacts_anonymize
    from messaging.services import contact_unsubscribe

    contact = make_contact()
    ids = messages_queue(template=email_template, outgoing=[outgoing(contact)])
    Message.objects.update(status="failed", reason="send error: 554")
    if change == "unsubscribed":
        contact_unsubscribe(contact_id=contact.pk, message_id=ids[0])
    else:
        contacts_anonymize(contact_ids=[contact.pk], source="test")
    assert messages_retry(message_ids=ids) == ids
    assert messages_deliver(message_ids=ids).suppressed == ids
    assert Message.objects.get().status == "suppressed"
    assert smtp_sink.received == []


def test_the_deliver_task_hands_each_retry_over_when_it_is_due(
    scripted, settings, monkeypatch, make_contact, email_template
):
    """Messages of one task may be at different attempts (the sweep and the stale pass merge them):
    each must be handed over again when *its* back-off ends, not only the first of them (the others
    would wait for the stale pass, MESSAGING_STALE_QUEUED_SECONDS after they were due)."""
    from messaging import tasks

    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 60
    scripted(["421 4.7.0 Busy", "421 4.7.0 Busy"])
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact()) for _ in range(2)])
    Message.objects.filter(pk=ids[1]).update(attempts=2)  # its third attempt: 240 s back-off
    scheduled: list[tuple[list[int], float]] = []
    monkeypatch.setattr(
        tasks.deliver, "apply_async", lambda args, countdown: scheduled.append((args[0], countdown))
    )
    tasks.deliver(ids)
    assert list(Message.objects.order_by("id").values_list("attempts", flat=True)) == [1, 3]
    handed_at = {message_id: countdown for handed, countdown in scheduled for message_id in handed}
    assert handed_at == {ids[0]: retry_delay(1), ids[1]: retry_delay(3)} == {ids[0]: 60, ids[1]: 240}
