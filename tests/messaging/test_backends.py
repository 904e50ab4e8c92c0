"""SMS and web push backends against local HTTP servers (never the internet)."""

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from messaging.backends import sms
from messaging.models import Message, PushSubscription
from messaging.services import Outgoing, RateLimiter, messages_deliver, messages_queue

pytestmark = pytest.mark.django_db


class Recorder(BaseHTTPRequestHandler):
    requests: list
    status: int = 201
    response: bytes = b"{}"

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        )
        status, response = self.server.reply(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.requests = []
    server.reply = lambda path: (201, b"{}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_twilio_backend_posts_to_the_messages_api(settings, http_server, make_contact, sms_template):
    settings.MESSAGING_SMS_BACKEND = "messaging.backends.sms.TwilioBackend"
    settings.MESSAGING_TWILIO_ACCOUNT_SID = "AC123"
    settings.MESSAGING_TWILIO_AUTH_TOKEN = "tok"
    settings.MESSAGING_TWILIO_API_BASE = http_server.url
    http_server.reply = lambda path: (201, b'{"sid": "SM42", "status": "queued"}')
    contact = make_contact(first_name="Bo", phone="+4915112345678")
    ids = messages_queue(
        template=sms_template,
        outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="s1", context={"coupon": {"code": "C9"}})],
    )
    assert messages_deliver(message_ids=ids).sent == ids
    (request,) = http_server.requests
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["headers"]["authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    form = parse_qs(request["body"].decode())
    assert form == {"To": ["+4915112345678"], "From": ["+15005550006"], "Body": ["Hi Bo, code C9"]}
    message = Message.objects.get()
    assert (message.status, message.provider_message_id) == (Message.Status.SENT, "SM42")


def test_twilio_error_fails_the_message_with_the_reason(settings, http_server, make_contact, sms_template):
    settings.MESSAGING_SMS_BACKEND = "messaging.backends.sms.TwilioBackend"
    settings.MESSAGING_TWILIO_ACCOUNT_SID, settings.MESSAGING_TWILIO_AUTH_TOKEN = "AC1", "t"
    settings.MESSAGING_TWILIO_API_BASE = http_server.url
    http_server.reply = lambda path: (400, b'{"code": 21211, "message": "The To number is not valid."}')
    ids = messages_queue(
        template=sms_template,
        outgoing=[Outgoing(contact_id=make_contact().pk, idempotency_key="s", context={})],
    )
    assert messages_deliver(message_ids=ids).failed == ids
    assert Message.objects.get().reason == "send error: Twilio HTTP 400: The To number is not valid."


def test_locmem_sms_backend_records(make_contact, sms_template):
    contact = make_contact(first_name="Lu")
    ids = messages_queue(
        template=sms_template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="s", context={})]
    )
    messages_deliver(message_ids=ids)
    assert [(s.to, s.body, s.sender) for s in sms.outbox] == [(contact.phone, "Hi Lu, code", "+15005550006")]


def test_web_push_is_encrypted_and_signed_with_vapid(settings, http_server, make_contact, push_template):
    vapid_key = ec.generate_private_key(ec.SECP256R1())
    settings.MESSAGING_PUSH_BACKEND = "messaging.backends.push.WebPushBackend"
    settings.MESSAGING_OUTBOUND_EXEMPT_ORIGINS = [http_server.url]  # plays the push service
    settings.MESSAGING_VAPID_PRIVATE_KEY = b64(vapid_key.private_numbers().private_value.to_bytes(32, "big"))
    settings.MESSAGING_VAPID_SUBJECT = "mailto:ops@example.com"
    receiver_key = ec.generate_private_key(ec.SECP256R1())
    receiver_public = receiver_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth_secret = os.urandom(16)
    contact = make_contact(first_name="Pia")
    PushSubscription.objects.create(
        contact=contact,
        endpoint=f"{http_server.url}/push/live",
        p256dh=b64(receiver_public),
        auth=b64(auth_secret),
    )
    gone = PushSubscription.objects.create(
        contact=contact,
        endpoint=f"{http_server.url}/push/gone",
        p256dh=b64(receiver_public),
        auth=b64(auth_secret),
    )
    http_server.reply = lambda path: (410, b"") if path.endswith("gone") else (201, b"")
    ids = messages_queue(
        template=push_template,
        outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="p", context={"coupon": {"code": "P5"}})],
    )
    assert messages_deliver(message_ids=ids).sent == ids

    live = next(r for r in http_server.requests if r["path"] == "/push/live")
    assert live["headers"]["content-encoding"] == "aes128gcm"
    assert live["headers"]["authorization"].startswith("vapid t=")
    payload = json.loads(
        http_ece.decrypt(live["body"], private_key=receiver_key, auth_secret=auth_secret, version="aes128gcm")
    )
    assert payload["title"] == "Hi Pia" and payload["body"] == "Your code: P5"
    assert payload["url"].startswith("http://testserver/m/c/")  # click tracked
    assert payload["message_id"] == ids[0]
    gone.refresh_from_db()
    assert gone.active is False
    assert PushSubscription.objects.get(endpoint__endswith="live").last_success_at is not None


def test_rate_limiter_spaces_sends():
    clock = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert sleeps == [0.25, 0.25, 0.25, 0.25]
    unlimited = RateLimiter(0, clock=lambda: clock[0], sleep=sleep)
    unlimited.wait()
    assert len(sleeps) == 4


def test_rate_limit_setting_slows_real_delivery(settings, make_contact, sms_template):
    settings.MESSAGING_SMS_RATE_PER_SECOND = 20
    contacts = [make_contact() for _ in range(5)]
    ids = messages_queue(
        template=sms_template,
        outgoing=[Outgoing(contact_id=c.pk, idempotency_key=f"r{c.pk}", context={}) for c in contacts],
    )
    started = time.monotonic()
    assert len(messages_deliver(message_ids=ids).sent) == 5
    assert time.monotonic() - started >= 0.19  # 4 gaps of 1/20 s


def test_vapid_keys_command_prints_a_usable_pair(settings, http_server, make_contact, push_template):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("vapid_keys", stdout=out)
    values = dict(line.split("=", 1) for line in out.getvalue().split())
    assert len(base64.urlsafe_b64decode(values["MESSAGING_VAPID_PUBLIC_KEY"] + "==")) == 65
    settings.MESSAGING_PUSH_BACKEND = "messaging.backends.push.WebPushBackend"
    settings.MESSAGING_OUTBOUND_EXEMPT_ORIGINS = [http_server.url]  # plays the push service
    settings.MESSAGING_VAPID_PRIVATE_KEY = values["MESSAGING_VAPID_PRIVATE_KEY"]
    receiver = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = receiver.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    contact = make_contact()
    PushSubscription.objects.create(
        contact=contact, endpoint=f"{http_server.url}/push/1", p256dh=b64(point), auth=b64(os.urandom(16))
    )
    ids = messages_queue(
        template=push_template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="v", context={})]
    )
    assert messages_deliver(message_ids=ids).sent == ids


def test_file_sms_backend_writes_one_file_per_sms(settings, tmp_path, make_contact, sms_template):
    settings.MESSAGING_SMS_BACKEND = "messaging.backends.sms.FileBackend"
    settings.MESSAGING_SMS_FILE_PATH = str(tmp_path)
    contact = make_contact(first_name="Fi")
    ids = messages_queue(
        template=sms_template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="f", context={})]
    )
    assert messages_deliver(message_ids=ids).sent == ids
    (path,) = tmp_path.iterdir()
    assert json.loads(path.read_text()) == {
        "to": contact.phone,
        "from": "+15005550006",
        "body": "Hi Fi, code",
    }
    assert Message.objects.get().provider_message_id == path.stem


def test_twilio_down_releases_the_sms_instead_of_failing_them(
    settings, http_server, make_contact, sms_template
):
    """Refused connections and 429/503 mean "not sent": back to queued for the retry, none lost."""
    from tests.messaging.conftest import free_port

    settings.MESSAGING_SMS_BACKEND = "messaging.backends.sms.TwilioBackend"
    settings.MESSAGING_TWILIO_ACCOUNT_SID, settings.MESSAGING_TWILIO_AUTH_TOKEN = "AC1", "t"
    settings.MESSAGING_TWILIO_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody listens
    contacts = [make_contact() for _ in range(3)]
    ids = messages_queue(
        template=sms_template,
        outgoing=[Outgoing(contact_id=c.pk, idempotency_key=f"s{c.pk}", context={}) for c in contacts],
    )
    report = messages_deliver(message_ids=ids)
    assert (report.retrying, report.requeued, report.failed) == (ids[:1], ids[1:], [])  # 1 tried
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.QUEUED}
    # Twilio answers again but is overloaded for the first request only.
    settings.MESSAGING_TWILIO_API_BASE = http_server.url
    replies = iter([(201, b'{"sid": "SM1"}'), (503, b'{"message": "busy"}')])
    http_server.reply = lambda path: next(replies, (201, b'{"sid": "SMx"}'))
    report = messages_deliver(message_ids=ids)
    assert (report.sent, report.retrying, report.requeued, report.failed) == (ids[:1], ids[1:2], ids[2:], [])
    assert messages_deliver(message_ids=ids).sent == ids[1:]
    assert len(http_server.requests) == 4  # 1 sent, 1 refused with 503, then the 2 released ones


class QuickTwilio(sms.TwilioBackend):
    """Twilio with a short read timeout, for the test of an answer that never comes."""

    def __init__(self, **kwargs):
        super().__init__(timeout=1, **kwargs)


@pytest.mark.parametrize("status", [500, 504])
def test_twilio_5xx_is_retried_not_failed(settings, http_server, make_contact, sms_template, status):
    """A provider 5xx is transient (issue 8): queued again with back-off, not failed for good."""
    settings.MESSAGING_SMS_BACKEND = "messaging.backends.sms.TwilioBackend"
    settings.MESSAGING_TWILIO_ACCOUNT_SID, settings.MESSAGING_TWILIO_AUTH_TOKEN = "AC1", "t"
    settings.MESSAGING_TWILIO_API_BASE = http_server.url
    http_server.reply = lambda path: (status, b'{"message": "internal error"}')
    ids = messages_queue(
        template=sms_template,
        outgoing=[Outgoing(contact_id=make_contact().pk, idempotency_key="s", context={})],
    )
    report = messages_deliver(message_ids=ids)
    assert (report.retrying, report.failed) == (ids, [])
    assert Message.objects.get().status == Message.Status.QUEUED


def test_twilio_request_sent_but_no_answer_is_in_doubt_not_failed(
    settings, http_server, make_contact, sms_template
):
    """Twilio got the request but its answer never came (read timeout): the SMS may have gone out,
    so it is "in doubt" (a marketer's retry may send it twice), not "failed"."""
    settings.MESSAGING_SMS_BACKEND = "tests.messaging.test_backends.QuickTwilio"
    settings.MESSAGING_TWILIO_ACCOUNT_SID, settings.MESSAGING_TWILIO_AUTH_TOKEN = "AC1", "t"
    settings.MESSAGING_TWILIO_API_BASE = http_server.url
    answer = threading.Event()

    def hang(path):
        answer.wait(60)
        return 201, b'{"sid": "SMlate"}'

    http_server.reply = hang
    ids = messages_queue(
        template=sms_template,
        outgoing=[Outgoing(contact_id=make_contact().pk, idempotency_key="s", context={})],
    )
    try:
        report = messages_deliver(message_ids=ids)
    finally:
        answer.set()
    assert (report.in_doubt, report.failed) == (ids, [])
    message = Message.objects.get()
    assert message.status == Message.Status.IN_DOUBT and "timed out" in message.reason
    assert len(http_server.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_web_push_429_and_5xx_are_retried_not_failed(
    settings, http_server, make_contact, push_template, status
):
    """A push service's 429/5xx is transient (issue 8): queued again with back-off, not failed."""
    vapid_key = ec.generate_private_key(ec.SECP256R1())
    settings.MESSAGING_PUSH_BACKEND = "messaging.backends.push.WebPushBackend"
    settings.MESSAGING_OUTBOUND_EXEMPT_ORIGINS = [http_server.url]  # plays the push service
    settings.MESSAGING_VAPID_PRIVATE_KEY = b64(vapid_key.private_numbers().private_value.to_bytes(32, "big"))
    settings.MESSAGING_VAPID_SUBJECT = "mailto:ops@example.com"
    receiver_public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    contact = make_contact()
    for name in ("busy", "gone"):
        PushSubscription.objects.create(
            contact=contact,
            endpoint=f"{http_server.url}/push/{name}",
            p256dh=b64(receiver_public),
            auth=b64(os.urandom(16)),
        )
    http_server.reply = lambda path: (410, b"") if path.endswith("gone") else (status, b"")
    ids = messages_queue(
        template=push_template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="p", context={})]
    )
    report = messages_deliver(message_ids=ids)
    assert (report.retrying, report.failed) == (ids, [])
    assert Message.objects.get().status == Message.Status.QUEUED
    assert list(PushSubscription.objects.order_by("id").values_list("active", flat=True)) == [True, False]
