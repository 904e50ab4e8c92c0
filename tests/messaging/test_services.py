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
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
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


def test_queue_twice_creates_one_message(make_contact, email_template):
    contact = make_contact()
    first = messages_queue(template=email_template, outgoing=[outgoing(contact), outgoing(contact)])
    second = messages_queue(template=email_template, outgoing=[outgoing(contact)])
    assert first == second
    assert Message.objects.count() == 1


def test_deliver_twice_sends_once(smtp_sink, make_contact, email_template):
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    assert messages_deliver(message_ids=ids).sent == ids
    again = messages_deliver(message_ids=ids)
    assert again.sent == [] and again.skipped == ids
    assert len(smtp_sink.received) == 1
    # Queueing the same key after it was sent returns nothing to deliver.
    assert messages_queue(template=email_template, outgoing=[outgoing(Contact.objects.get())]) == []


def test_message_claimed_by_another_worker_is_skipped(smtp_sink, make_contact, email_template):
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    Message.objects.filter(pk__in=ids).update(status=Message.Status.SENDING, claim_token="other-worker")
    report = messages_deliver(message_ids=ids)
    assert report.skipped == ids
    assert smtp_sink.received == []
    assert Message.objects.get().claim_token == "other-worker"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status": Contact.Status.UNSUBSCRIBED}, "contact unsubscribed"),
        ({"status": Contact.Status.BOUNCED}, "contact bounced"),
        ({"status": Contact.Status.ANONYMIZED}, "contact anonymized"),
        ({"email_consent": False}, "no email consent"),
        ({"email": None}, "no email address"),
    ],
)
def test_contacts_who_may_not_get_email_are_suppressed(
    smtp_sink, make_contact, email_template, fields, reason
):
    contact = make_contact(**fields)
    assert messages_queue(template=email_template, outgoing=[outgoing(contact)]) == []
    message = Message.objects.get()
    assert (message.status, message.reason) == (Message.Status.SUPPRESSED, reason)


def test_suppression_is_per_channel(make_contact, email_template, sms_template):
    contact = make_contact(email_consent=False, sms_consent=True)
    assert messages_queue(template=email_template, outgoing=[outgoing(contact, "e")]) == []
    assert len(messages_queue(template=sms_template, outgoing=[outgoing(contact, "s")])) == 1
    assert dict(Message.objects.values_list("idempotency_key", "status")) == {
        "e": Message.Status.SUPPRESSED,
        "s": Message.Status.QUEUED,
    }


def test_push_without_subscription_is_suppressed(make_contact, push_template):
    assert messages_queue(template=push_template, outgoing=[outgoing(make_contact())]) == []
    assert Message.objects.get().reason == "no active push subscription"


def test_consent_withdrawn_after_queueing_is_checked_at_delivery(smtp_sink, make_contact, email_template):
    contact = make_contact()
    ids = messages_queue(template=email_template, outgoing=[outgoing(contact)])
    Contact.objects.filter(pk=contact.pk).update(email_consent=False)
    report = messages_deliver(message_ids=ids)
    assert report.suppressed == ids
    assert smtp_sink.received == []
    assert Message.objects.get().status == Message.Status.SUPPRESSED


def test_render_error_fails_that_message_only(smtp_sink, make_contact, email_template):
    email_template.html_body = "{% for a, b in contact.attributes.pairs %}{{ a }}={{ b }} {% endfor %}"
    email_template.save()
    good = make_contact(attributes={"pairs": [[1, 2]]})
    bad = make_contact(attributes={"pairs": [[1, 2, 3]]})
    ids = messages_queue(template=email_template, outgoing=[outgoing(good), outgoing(bad)])
    report = messages_deliver(message_ids=ids)
    assert len(report.sent) == 1 and len(report.failed) == 1
    failed = Message.objects.get(contact=bad)
    assert failed.status == Message.Status.FAILED
    assert failed.reason.startswith("render error: ValueError: Need 2 values to unpack")
    assert [m["To"] for m in smtp_sink.received] == [good.email]


def test_syntax_error_in_an_unvalidated_template_fails_its_messages(smtp_sink, make_contact, email_template):
    email_template.subject = "{% if %}"
    email_template.save()
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    report = messages_deliver(message_ids=ids)
    assert report.failed == ids
    assert "render error: TemplateSyntaxError" in Message.objects.get().reason


def test_smtp_server_down_releases_messages_back_to_queued(settings, make_contact, email_template):
    from tests.messaging.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    report = messages_deliver(message_ids=ids)
    assert report.requeued == ids
    message = Message.objects.get()
    assert (message.status, message.claim_token) == (Message.Status.QUEUED, "")


def test_expired_lease_requeues_unstarted_and_marks_started_in_doubt(smtp_sink, make_contact, email_template):
    """A worker died holding three claims: one handed to SMTP, one not yet, one still within its lease."""
    from django.utils.timezone import now

    from messaging.services import messages_recover_expired

    ids = messages_queue(
        template=email_template,
        outgoing=[outgoing(make_contact(), key) for key in ("started", "unstarted", "alive")],
    )
    past, claimed = now() - dt.timedelta(seconds=1), {"status": Message.Status.SENDING, "claim_token": "dead"}
    Message.objects.filter(idempotency_key="started").update(
        **claimed, lease_until=past, attempt_started_at=past
    )
    Message.objects.filter(idempotency_key="unstarted").update(**claimed, lease_until=past)
    Message.objects.filter(idempotency_key="alive").update(
        **claimed, lease_until=now() + dt.timedelta(minutes=1)
    )
    report = messages_recover_expired()
    assert (report.requeued, report.in_doubt) == (1, 1)
    rows = {m.idempotency_key: m for m in Message.objects.all()}
    assert rows["started"].status == Message.Status.IN_DOUBT and rows["started"].reason.startswith("in doubt")
    assert rows["unstarted"].status == Message.Status.QUEUED
    assert rows["alive"].status == Message.Status.SENDING
    assert messages_deliver(message_ids=ids).sent == [rows["unstarted"].pk]  # in doubt: never by itself
    assert [m["To"] for m in smtp_sink.received] == [rows["unstarted"].to_address]


def test_message_id_header_is_derived_from_the_idempotency_key(smtp_sink, make_contact, email_template):
    from messaging.services import message_id_header

    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact(), "enrollment:1:step:2")])
    messages_deliver(message_ids=ids)
    assert smtp_sink.received[0]["Message-ID"] == message_id_header("enrollment:1:step:2")
    assert message_id_header("enrollment:1:step:2").endswith("@example.com>")


def test_one_connection_per_delivery_call_whatever_the_claim_size(settings, make_contact, email_template):
    from django.core import mail

    settings.EMAIL_BACKEND = "tests.messaging.test_services.CountingBackend"
    CountingBackend.opened = 0
    settings.MESSAGING_CLAIM_SIZE = 2
    contacts = [make_contact() for _ in range(5)]
    ids = messages_queue(template=email_template, outgoing=[outgoing(c) for c in contacts])
    assert len(messages_deliver(message_ids=ids).sent) == 5
    assert CountingBackend.opened == 1  # claims of 2 + 2 + 1, one connection
    assert len(mail.outbox) == 5


from django.core.mail.backends.locmem import EmailBackend as _Locmem  # noqa: E402


class CountingBackend(_Locmem):
    opened = 0

    def open(self):
        type(self).opened += 1
        return True


def test_messages_sent_count_for_the_frequency_cap(make_contact, email_template, smtp_sink):
    from django.utils.timezone import now

    from messaging.selectors import messages_sent_count

    a, b, c = make_contact(), make_contact(), make_contact()
    ids = messages_queue(
        template=email_template, outgoing=[outgoing(a, "1"), outgoing(a, "2"), outgoing(b, "3")]
    )
    messages_deliver(message_ids=ids)
    Message.objects.filter(idempotency_key="3").update(sent_at=now() - dt.timedelta(days=10))
    counts = messages_sent_count(contact_ids=[a.pk, b.pk, c.pk], since=now() - dt.timedelta(days=1))
    assert counts == {a.pk: 2, b.pk: 0, c.pk: 0}


def test_messages_stats_by_step(smtp_sink, make_contact, email_template, django_assert_num_queries):
    from django.utils.timezone import now

    from messaging.selectors import messages_stats_by_step

    a, b, c = make_contact(), make_contact(), make_contact(email_consent=False)
    ids = messages_queue(
        template=email_template, outgoing=[outgoing(a, "1"), outgoing(b, "2"), outgoing(c, "3")]
    )
    messages_deliver(message_ids=ids)
    Message.objects.filter(idempotency_key="1").update(opened_at=now(), clicked_at=now())
    Message.objects.filter(idempotency_key="2").update(opened_at=now())
    with django_assert_num_queries(1):
        stats = messages_stats_by_step(journey_id=7)
    assert stats[70]["sent"] == 2 and stats[70]["suppressed"] == 1
    assert (stats[70]["opened"], stats[70]["clicked"], stats[70]["unsubscribed"]) == (2, 1, 0)
    assert messages_stats_by_step(journey_id=8) == {}


class DyingSmtpBackend(_Locmem):
    """Accepts `accept` emails, then the server goes away: the send raises and reconnecting fails."""

    accept = 2
    down = False

    def open(self):
        if type(self).down:
            raise ConnectionRefusedError(111, "Connection refused")
        return True

    def send_messages(self, messages):
        import smtplib

        if type(self).down:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        if type(self).accept <= 0:
            type(self).down = True
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        type(self).accept -= 1
        return super().send_messages(messages)


def test_smtp_down_mid_batch_leaves_one_in_doubt_and_releases_the_unsent_rest(
    settings, make_contact, email_template
):
    from django.core import mail

    settings.EMAIL_BACKEND = "tests.messaging.test_services.DyingSmtpBackend"
    DyingSmtpBackend.accept, DyingSmtpBackend.down = 2, False
    contacts = [make_contact() for _ in range(5)]
    ids = messages_queue(template=email_template, outgoing=[outgoing(c) for c in contacts])
    report = messages_deliver(message_ids=ids)
    assert report.sent == ids[:2]
    assert report.in_doubt == ids[2:3]  # the send that broke: it may have arrived, so never resent
    assert report.requeued == ids[3:]  # never handed to the server: back to queued for the retry
    statuses = dict(Message.objects.values_list("id", "status"))
    assert [statuses[i] for i in ids] == ["sent", "sent", "in_doubt", "queued", "queued"]
    # The server comes back: the retry sends the released ones only.
    DyingSmtpBackend.accept, DyingSmtpBackend.down = 100, False
    retry = messages_deliver(message_ids=ids)
    assert retry.sent == ids[3:]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for i, c in enumerate(contacts) if i != 2)


class EspError(Exception):
    """Like django-anymail's AnymailAPIError: the ESP's HTTP status on the exception."""

    def __init__(self, status_code: int):
        super().__init__(f"ESP API response {status_code}")
        self.status_code = status_code


class RefusingApiBackend(_Locmem):
    """An ESP over HTTP that answers every send with `status`."""

    status = 503

    def send_messages(self, messages):
        raise EspError(type(self).status)


def test_provider_outage_retries_a_few_and_releases_the_rest(settings, make_contact, email_template):
    from messaging.services import MAX_SEND_ERRORS_IN_A_ROW

    settings.EMAIL_BACKEND = "tests.messaging.test_services.RefusingApiBackend"
    RefusingApiBackend.status = 503
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact()) for _ in range(8)])
    report = messages_deliver(message_ids=ids)
    assert report.retrying == ids[:MAX_SEND_ERRORS_IN_A_ROW]  # 503: transient, tried again later
    assert report.requeued == ids[MAX_SEND_ERRORS_IN_A_ROW:]  # never tried: the provider looks down
    assert report.failed == []
    assert Message.objects.filter(status=Message.Status.QUEUED).count() == 8


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(429, "queued"), (500, "queued"), (503, "queued"), (400, "failed"), (422, "failed")],
)
def test_esp_status_decides_between_retry_and_failure(
    settings, make_contact, email_template, status, outcome
):
    settings.EMAIL_BACKEND = "tests.messaging.test_services.RefusingApiBackend"
    RefusingApiBackend.status = status
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    messages_deliver(message_ids=ids)
    assert Message.objects.get().status == outcome


@pytest.mark.parametrize("channel", ["email", "sms", "push"])
def test_queue_query_count_is_fixed_and_delivery_writes_are_fixed_per_message(
    channel, make_contact, email_template, sms_template, push_template, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging.models import PushSubscription

    settings.MESSAGING_CLAIM_SIZE = 10
    template = {"email": email_template, "sms": sms_template, "push": push_template}[channel]
    counts = []
    for size in (5, 35):  # 35: one INSERT on SQLite too (999 parameters)
        contacts = [make_contact() for _ in range(size)]
        PushSubscription.objects.bulk_create(
            PushSubscription(contact=c, endpoint=f"https://push.example/{c.pk}", p256dh="k", auth="a")
            for c in contacts
        )
        items = [outgoing(c, f"{channel}:{size}:{c.pk}") for c in contacts]
        with CaptureQueriesContext(connection) as queued:
            ids = messages_queue(template=template, outgoing=items)
        with CaptureQueriesContext(connection) as delivered:
            report = messages_deliver(message_ids=ids)
        assert len(report.sent) == size
        claims = -(-size // 10)
        # Delivery: per claim of 10, the claim UPDATE and its SELECT (push: and
        # the subscriptions); per message, "attempt started" and its outcome (on PostgreSQL a `sent`
        # outcome goes in one statement with the next start: one write per message plus one per claim);
        # at the end, releasing what is left (push: and the subscriptions' last success).
        per_claim, at_end = {"email": (2, 1), "sms": (2, 1), "push": (4, 2)}[channel]
        writes = size + claims if connection.vendor == "postgresql" else 2 * size
        counts.append((len(queued), len(delivered) - claims * per_claim - writes - at_end))
    # Queueing: read the contacts (push: and the subscriptions), then on PostgreSQL one
    # INSERT ... ON CONFLICT DO NOTHING RETURNING; elsewhere bulk_create and reading the ids back.
    queue_queries = {"email": 2, "sms": 2, "push": 3}[channel] + (connection.vendor != "postgresql")
    assert counts == [(queue_queries, 0), (queue_queries, 0)]


class WatchingBackend(_Locmem):
    """Records, at each send, the statuses the database holds for the messages sent before."""

    seen: list[list[str]] = []

    def send_messages(self, messages):
        type(self).seen.append(list(Message.objects.order_by("id").values_list("status", flat=True)))
        return super().send_messages(messages)


def test_each_outcome_is_recorded_before_the_next_message_is_sent(settings, make_contact, email_template):
    """No buffering: a message the server accepted is `sent` in the database before the next send."""
    settings.EMAIL_BACKEND = "tests.messaging.test_services.WatchingBackend"
    settings.MESSAGING_CLAIM_SIZE = 3
    WatchingBackend.seen = []
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact()) for _ in range(4)])
    report = messages_deliver(message_ids=ids)
    assert report.sent == ids
    assert WatchingBackend.seen == [
        ["sending", "sending", "sending", "queued"],  # claimed 3 at a time, leased
        ["sent", "sending", "sending", "queued"],
        ["sent", "sent", "sending", "queued"],
        ["sent", "sent", "sent", "sending"],
    ]
    rows = {m.pk: m for m in Message.objects.all()}
    assert all(rows[i].sent_at and rows[i].subject.startswith("We miss you") for i in ids)
    assert all(rows[i].attempts == 1 and rows[i].lease_until is None for i in ids)


@pytest.mark.parametrize("push_url", ["javascript:alert(1)", "//evil.example/", "data:text/html,x"])
def test_push_with_an_unsafe_url_fails_instead_of_sending_it(make_contact, push_template, push_url):
    from messaging.backends import push
    from messaging.models import PushSubscription

    push_template.push_url = push_url
    push_template.save()
    contact = make_contact()
    PushSubscription.objects.create(
        contact=contact, endpoint="https://push.example.com/1", p256dh="k", auth="a"
    )
    ids = messages_queue(template=push_template, outgoing=[outgoing(contact)])
    report = messages_deliver(message_ids=ids)
    assert report.failed == ids and push.outbox == []
    assert "http(s)" in Message.objects.get().reason


def test_push_without_url_is_sent_without_one(make_contact, push_template):
    from messaging.backends import push
    from messaging.models import PushSubscription

    push_template.push_url = ""
    push_template.save()
    contact = make_contact()
    PushSubscription.objects.create(
        contact=contact, endpoint="https://push.example.com/1", p256dh="k", auth="a"
    )
    assert messages_deliver(
        message_ids=messages_queue(template=push_template, outgoing=[outgoing(contact)])
    ).sent
    assert push.outbox[0].payload["url"] == ""


@pytest.mark.parametrize(
    "address",
    ["a@example.com\r\nBcc: victim@example.net", "a@example.com, b@example.net", "not-an-email", "a@b"],
)
def test_invalid_email_addresses_are_suppressed_at_queue_and_at_send(
    smtp_sink, make_contact, email_template, address
):
    bad = make_contact(email=address)
    assert messages_queue(template=email_template, outgoing=[outgoing(bad, "q")]) == []
    assert Message.objects.get(idempotency_key="q").reason == "invalid email address"
    # Valid when queued, changed to something invalid before the send.
    later = make_contact()
    ids = messages_queue(template=email_template, outgoing=[outgoing(later, "s")])
    Contact.objects.filter(pk=later.pk).update(email="x" + address)
    assert messages_deliver(message_ids=ids).suppressed == ids
    assert smtp_sink.received == []


def test_contact_data_cannot_inject_headers_through_the_subject(smtp_sink, make_contact, email_template):
    contact = make_contact(first_name="Bob\r\nBcc: victim@example.net\nX-Evil: 1")
    messages_deliver(message_ids=messages_queue(template=email_template, outgoing=[outgoing(contact)]))
    (mail,) = smtp_sink.received
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert mail["Subject"] == "We miss you, Bob Bcc: victim@example.net X-Evil: 1"
    assert smtp_sink.envelopes[0].rcpt_tos == [contact.email]


@pytest.mark.parametrize(
    "from_email",
    ["Shop <news@shop.example>\r\nBcc: victim@example.net", "not an address", "a@b.example, c@d.example"],
)
def test_template_from_email_must_be_one_valid_address(email_template, from_email):
    from django.core.exceptions import ValidationError

    from messaging.services import message_template_save

    email_template.from_email = from_email
    with pytest.raises(ValidationError) as info:
        message_template_save(template=email_template)
    assert "from_email" in info.value.message_dict
    email_template.from_email = "Shop News <news@shop.example>"
    assert message_template_save(template=email_template).pk


def test_a_message_whose_context_cannot_be_read_fails_alone(smtp_sink, make_contact, email_template):
    good, bad = make_contact(), make_contact()
    ids = messages_queue(template=email_template, outgoing=[outgoing(good), outgoing(bad)])
    Message.objects.filter(contact=bad).update(context={"coupon": {"expires_at": {"__date__": "31/01/2030"}}})
    report = messages_deliver(message_ids=ids)
    assert len(report.sent) == 1 and len(report.failed) == 1
    assert Message.objects.get(contact=bad).reason.startswith("render error: ValueError")
    assert [m["To"] for m in smtp_sink.received] == [good.email]


def test_a_template_switched_to_another_channel_does_not_send_an_empty_email(
    smtp_sink, make_contact, email_template
):
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact())])
    email_template.channel = "sms"
    email_template.sms_text = "Hi"
    email_template.save()
    report = messages_deliver(message_ids=ids)
    assert report.failed == ids and smtp_sink.received == []
    assert "channel" in Message.objects.get().reason


def test_a_batch_of_1200_contacts_is_queued_and_delivered_with_fixed_queries_per_claim_and_message(
    settings, email_template
):
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.MESSAGING_CLAIM_SIZE = 50
    Contact.objects.bulk_create(
        Contact(email=f"bulk{n}@example.com", first_name=f"B{n}", email_consent=True) for n in range(1200)
    )
    contacts = list(Contact.objects.order_by("id"))
    items = [outgoing(c, f"bulk:{c.pk}") for c in contacts]
    with CaptureQueriesContext(connection) as queued:
        ids = messages_queue(template=email_template, outgoing=items)
    assert len(ids) == 1200
    assert len(queued) <= 3 + 1200 // 35  # contacts, ready ids, INSERTs (SQLite: 37 rows per INSERT)
    with CaptureQueriesContext(connection) as delivered:
        report = messages_deliver(message_ids=ids)
    assert len(report.sent) == 1200 and len(mail.outbox) == 1200
    # 24 claims of 50 (UPDATE, SELECT); start and outcome per message (PostgreSQL: a `sent` outcome
    # shares its statement with the next start, so one per message plus one per claim).
    writes = 1200 + 24 if connection.vendor == "postgresql" else 2 * 1200
    assert len(delivered) == 24 * 2 + writes + 1
