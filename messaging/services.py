"""Everything that changes messaging state: queueing, delivery, tracking, unsubscribe, webhooks.

Crash window policy (documented in the README): a message is claimed (queued -> sending) in a
conditional UPDATE, sent, and marked sent right after. A worker that dies between "handed to the
provider" and "marked sent" leaves the row in `sending`. The periodic sweeper marks such rows
failed ("interrupted") after MESSAGING_SENDING_TIMEOUT_SECONDS and never re-sends them: at most
once, never a duplicate. Every email also carries a Message-ID derived from the idempotency key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils.timezone import now

from contacts.models import Contact, Event
from contacts.signals import contacts_changed, signal_send_on_commit
from messaging import sandbox, tokens
from messaging.backends import ProviderUnavailable, SendError
from messaging.backends import push as push_backends
from messaging.backends import sms as sms_backends
from messaging.models import Channel, DeliveryEvent, Message, MessageTemplate, PushSubscription
from messaging.rendering import template_render
from messaging.selectors import context_encode, render_contexts

logger = logging.getLogger(__name__)

CHUNK = 1000
# This many send errors in a row look like a provider outage: the rest of the batch is released
# (back to queued, retried later) instead of failing one by one.
MAX_SEND_ERRORS_IN_A_ROW = 5


@dataclass(frozen=True)
class Outgoing:
    contact_id: int
    idempotency_key: str  # unique per message, e.g. f"enrollment:{enrollment_id}:step:{step_id}"
    context: dict  # extra template values, e.g. {"coupon": {"code": "...", "expires_at": date}}
    journey_id: int | None = None
    step_id: int | None = None
    enrollment_id: int | None = None


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # not queued any more (sent, claimed elsewhere, ...)
    requeued: list[int] = field(default_factory=list)  # released unsent (connection down, batch too slow)

    def __str__(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.failed)} failed, {len(self.suppressed)} suppressed, "
            f"{len(self.skipped)} skipped, {len(self.requeued)} requeued"
        )


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _contacts_changed_on_commit(contact_ids: list[int]) -> None:
    signal_send_on_commit(contacts_changed, sender=Contact, contact_ids=contact_ids)


# --- Templates -------------------------------------------------------------------------------

REQUIRED_FIELDS = {
    Channel.EMAIL: ("subject", "html_body"),
    Channel.SMS: ("sms_text",),
    Channel.PUSH: ("push_title", "push_body"),
}
CHANNEL_FIELDS = {
    Channel.EMAIL: ("subject", "html_body", "text_body"),
    Channel.SMS: ("sms_text",),
    Channel.PUSH: ("push_title", "push_body", "push_url"),
}


def message_template_problems(*, template: MessageTemplate) -> dict[str, list[str]]:
    """Missing parts, syntax errors and unknown variables, per field, for the channel's fields."""
    problems: dict[str, list[str]] = {}
    for name in REQUIRED_FIELDS[template.channel]:
        if not getattr(template, name).strip():
            problems.setdefault(name, []).append(f"Required for {template.get_channel_display()} templates.")
    for name in CHANNEL_FIELDS[template.channel]:
        found = sandbox.template_problems(getattr(template, name))
        if found:
            problems.setdefault(name, []).extend(found)
    if template.channel == Channel.EMAIL and from_email_problem(template.from_email):
        problems.setdefault("from_email", []).append(from_email_problem(template.from_email))
    if not problems:  # the parts share one budget at send (subject and push URL unescaped)
        names = CHANNEL_FIELDS[template.channel]
        escaped = ("html_body",)
        too_big = sandbox.message_budget_problem([(getattr(template, n), n in escaped) for n in names])
        if too_big:
            problems[names[min(1, len(names) - 1)]] = [too_big]
    push_url = template.push_url.strip()  # checked here when static, when rendered otherwise
    static = template.channel == Channel.PUSH and push_url and "{" not in push_url
    if static and tokens.redirect_target(push_url) is None:
        problems.setdefault("push_url", []).append("Must be an absolute http(s) link (https://...).")
    return problems


def message_template_save(*, template: MessageTemplate) -> MessageTemplate:
    """Validate (raises ValidationError per field) and save."""
    problems = message_template_problems(template=template)
    if problems:
        raise ValidationError(problems)
    template.updated_at = now()
    template.save()
    return template


# --- Suppression -----------------------------------------------------------------------------


def email_address_valid(address: str) -> bool:
    """One plain address (no display name, no list, no CR/LF): what a contact's email must be."""
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def from_email_problem(value: str) -> str:
    """Why a template's From is unusable ("" if fine): one address, optionally with a name."""
    if not value:
        return ""
    if "\r" in value or "\n" in value:
        return "Must be on one line."
    addresses = getaddresses([value])
    if len(addresses) != 1 or not email_address_valid(addresses[0][1]):
        return "Must be one email address, e.g. 'Shop <news@shop.example>'."
    return ""


def _suppression_reason(*, status: str, consent: bool, address: str, channel: str, has_push: bool) -> str:
    if status != Contact.Status.ACTIVE:
        return f"contact {status}"
    if not consent:
        return f"no {channel} consent"
    if channel == Channel.EMAIL and not address:
        return "no email address"
    if channel == Channel.EMAIL and not email_address_valid(address):
        return "invalid email address"
    if channel == Channel.SMS and not address:
        return "no phone number"
    if channel == Channel.PUSH and not has_push:
        return "no active push subscription"
    return ""


def _address(channel: str, email: str | None, phone: str | None) -> str:
    if channel == Channel.EMAIL:
        return email or ""
    if channel == Channel.SMS:
        return phone or ""
    return ""


def _push_subscribed(contact_ids: Iterable[int]) -> set[int]:
    subscribed: set[int] = set()
    for chunk in _chunks(list(contact_ids), CHUNK):
        subscribed.update(
            PushSubscription.objects.filter(contact_id__in=chunk, active=True)
            .values_list("contact_id", flat=True)
            .distinct()
        )
    return subscribed


# --- Queue -----------------------------------------------------------------------------------


def messages_queue(*, template: MessageTemplate, outgoing: list[Outgoing]) -> list[int]:
    """Bulk-create one Message per idempotency key (existing keys are left alone), suppressed ones
    marked with a reason. Returns the ids of all queued messages for these keys, ready to deliver."""
    unique: dict[str, Outgoing] = {}
    for item in outgoing:
        unique.setdefault(item.idempotency_key, item)
    if not unique:
        return []
    channel = template.channel
    consent_field = f"{channel}_consent"
    contact_ids = list({item.contact_id for item in unique.values()})
    contacts: dict[int, dict] = {}
    for chunk in _chunks(contact_ids, CHUNK):
        for row in Contact.objects.filter(id__in=chunk).values(
            "id", "status", "email", "phone", consent_field
        ):
            contacts[row["id"]] = row
    subscribed = _push_subscribed(contacts) if channel == Channel.PUSH else set()

    rows = []
    created_at = now()
    for item in unique.values():
        contact = contacts.get(item.contact_id)
        if contact is None:
            logger.warning(
                "messages_queue: contact %s does not exist, %s skipped", item.contact_id, item.idempotency_key
            )
            continue
        address = _address(channel, contact["email"], contact["phone"])
        reason = _suppression_reason(
            status=contact["status"],
            consent=contact[consent_field],
            address=address,
            channel=channel,
            has_push=item.contact_id in subscribed,
        )
        rows.append(
            Message(
                contact_id=item.contact_id,
                channel=channel,
                template=template,
                idempotency_key=item.idempotency_key,
                status=Message.Status.SUPPRESSED if reason else Message.Status.QUEUED,
                reason=reason,
                journey_id=item.journey_id,
                step_id=item.step_id,
                enrollment_id=item.enrollment_id,
                context=context_encode(item.context or {}),
                to_address=address,
                created_at=created_at,
            )
        )
    Message.objects.bulk_create(rows, batch_size=CHUNK, ignore_conflicts=True)
    ready: list[int] = []
    for chunk in _chunks(list(unique), CHUNK):
        ready.extend(
            Message.objects.filter(idempotency_key__in=chunk, status=Message.Status.QUEUED)
            .order_by("id")
            .values_list("id", flat=True)
        )
    return ready


def messages_deliver_later(*, message_ids: list[int]) -> None:
    """Enqueue delivery tasks after the current transaction commits (chunks of MESSAGING_BATCH_SIZE)."""
    from messaging import tasks

    for chunk in _chunks(list(message_ids), settings.MESSAGING_BATCH_SIZE):
        transaction.on_commit(lambda chunk=chunk: tasks.deliver.delay(chunk))


# --- Deliver ---------------------------------------------------------------------------------


class RateLimiter:
    """Spaces sends to at most `rate` per second (0 = unlimited), in this process."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / rate if rate else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_at: float | None = None

    def wait(self) -> None:
        if not self.interval:
            return
        current = self.clock()
        if self.next_at is not None and self.next_at > current:
            self.sleep(self.next_at - current)
            current = self.next_at
        self.next_at = current + self.interval


def channel_rate(channel: str) -> int:
    return {
        Channel.EMAIL: settings.MESSAGING_EMAIL_RATE_PER_SECOND,
        Channel.SMS: settings.MESSAGING_SMS_RATE_PER_SECOND,
        Channel.PUSH: settings.MESSAGING_PUSH_RATE_PER_SECOND,
    }[channel]


def _sender_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "winback.invalid"


def message_id_header(idempotency_key: str) -> str:
    """Stable RFC 5322 Message-ID: the same message always gets the same id, so receivers can dedupe."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{_sender_domain()}>"


def _unsubscribe_mailto() -> str:
    return settings.MESSAGING_UNSUBSCRIBE_MAILTO or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


class _Claim:
    """The rows one delivery call claimed, and the writes that finish them (only while still ours).

    Outcomes (sent/failed) are buffered and written in one UPDATE per FLUSH_ROWS rows or
    FLUSH_SECONDS, so a batch costs the same few queries whatever its size. A worker that dies
    before a flush leaves those rows in `sending`: the sweeper marks them failed ("interrupted"),
    never re-sends them, so the at-most-once rule holds; only the record of a few sends is lost.
    """

    FLUSH_ROWS = 500
    FLUSH_SECONDS = 5.0

    def __init__(self, token: str, report: DeliveryReport):
        self.token = token
        self.report = report
        self.started = time.monotonic()
        self.flushed_at = self.started
        self.pending: dict[int, dict[str, object]] = {}

    def _ours(self, message_ids: list[int]):
        return Message.objects.filter(
            id__in=message_ids, claim_token=self.token, status=Message.Status.SENDING
        )

    def _record(self, message_id: int, values: dict[str, object]) -> None:
        self.pending[message_id] = values
        if len(self.pending) >= self.FLUSH_ROWS or time.monotonic() - self.flushed_at > self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered outcomes: one UPDATE with a CASE per column."""
        self.flushed_at = time.monotonic()
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        columns: dict[str, list[When]] = defaultdict(list)
        for message_id, values in pending.items():
            for column, value in values.items():
                columns[column].append(When(pk=message_id, then=Value(value)))
        self._ours(list(pending)).update(
            **{
                column: Case(*whens, default=F(column), output_field=Message._meta.get_field(column))
                for column, whens in columns.items()
            }
        )

    def sent(self, message: Message, *, provider_id: str = "", subject: str = "") -> None:
        self._record(
            message.pk,
            {
                "status": Message.Status.SENT.value,
                "sent_at": now(),
                "provider_message_id": provider_id[:255],
                "subject": subject[:255],
                "to_address": message.to_address,
            },
        )
        self.report.sent.append(message.pk)

    def failed(self, message: Message, reason: str) -> None:
        self._record(message.pk, {"status": Message.Status.FAILED.value, "reason": reason[:2000]})
        self.report.failed.append(message.pk)

    def suppressed(self, by_reason: dict[str, list[int]]) -> None:
        for reason, ids in by_reason.items():
            self._ours(ids).update(status=Message.Status.SUPPRESSED, reason=reason)
            self.report.suppressed.extend(ids)

    def release(self, messages: list[Message]) -> None:
        ids = [m.pk for m in messages]
        self._ours(ids).update(status=Message.Status.QUEUED, claim_token="", claimed_at=None)
        self.report.requeued.extend(ids)

    def too_slow(self) -> bool:
        """Stop well before the sweeper would call our claimed rows interrupted."""
        return time.monotonic() - self.started > settings.MESSAGING_SENDING_TIMEOUT_SECONDS / 2


def messages_deliver(*, message_ids: list[int]) -> DeliveryReport:
    """Claim queued rows atomically, render each (a render error fails that message only), send per
    channel over one connection with the configured rate limit, and record each outcome at once."""
    report = DeliveryReport()
    ids = sorted(set(message_ids))
    for chunk in _chunks(ids, settings.MESSAGING_BATCH_SIZE):
        _deliver_chunk(chunk, report)
    return report


def _deliver_chunk(ids: list[int], report: DeliveryReport) -> None:
    claim = _Claim(uuid.uuid4().hex, report)
    try:
        _deliver_claimed(ids, claim)
    finally:
        claim.flush()


def _deliver_claimed(ids: list[int], claim: _Claim) -> None:
    report = claim.report
    Message.objects.filter(id__in=ids, status=Message.Status.QUEUED).update(
        status=Message.Status.SENDING, claim_token=claim.token, claimed_at=now()
    )
    messages = list(
        Message.objects.filter(id__in=ids, claim_token=claim.token, status=Message.Status.SENDING)
        .select_related("contact", "template")
        .order_by("id")
    )
    claimed = {m.pk for m in messages}
    report.skipped.extend(i for i in ids if i not in claimed)
    if not messages:
        return

    # Consent may have changed since queueing: check again right before sending.
    subscribed = _push_subscribed({m.contact_id for m in messages if m.channel == Channel.PUSH})
    eligible: list[Message] = []
    suppress: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        contact = message.contact
        message.to_address = _address(message.channel, contact.email, contact.phone)
        reason = _suppression_reason(
            status=contact.status,
            consent=getattr(contact, f"{message.channel}_consent"),
            address=message.to_address,
            channel=message.channel,
            has_push=message.contact_id in subscribed,
        )
        if not reason and message.template is None:
            reason = "template deleted"
        if reason:
            suppress[reason].append(message.pk)
        else:
            eligible.append(message)
    claim.suppressed(suppress)
    if not eligible:
        return

    contexts = _contexts(eligible, claim)
    by_channel: dict[str, list[Message]] = defaultdict(list)
    for message in eligible:
        if message.pk not in contexts:
            continue
        if message.template.channel != message.channel:
            claim.failed(message, f"render error: the template's channel is now {message.template.channel}")
            continue
        by_channel[message.channel].append(message)
    senders = {Channel.EMAIL: _send_emails, Channel.SMS: _send_sms, Channel.PUSH: _send_pushes}
    for channel, channel_messages in by_channel.items():
        senders[channel](channel_messages, contexts, claim)


def _contexts(messages: list[Message], claim: _Claim) -> dict[int, dict]:
    """Template contexts in one go; if that fails, one by one so a bad one fails only itself."""
    try:
        return render_contexts(messages=messages)
    except Exception:
        logger.exception("building %d contexts failed, retrying one by one", len(messages))
    contexts: dict[int, dict] = {}
    for message in messages:
        try:
            contexts.update(render_contexts(messages=[message]))
        except Exception as exc:
            claim.failed(message, f"render error: {type(exc).__name__}: {exc}")
    return contexts


def _render(message: Message, contexts: dict[int, dict], claim: _Claim):
    try:
        return template_render(
            template=message.template, context=contexts[message.pk], message_id=message.pk, track=True
        )
    except Exception as exc:
        claim.failed(message, f"render error: {type(exc).__name__}: {exc}")
        return None


def _send_emails(messages: list[Message], contexts: dict[int, dict], claim: _Claim) -> None:
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:
        logger.warning("email connection failed, %d messages released: %s", len(messages), exc)
        claim.release(messages)
        return
    limiter = RateLimiter(channel_rate(Channel.EMAIL))
    errors_in_a_row = 0
    try:
        for index, message in enumerate(messages):
            if claim.too_slow():
                claim.release(messages[index:])
                return
            rendered = _render(message, contexts, claim)
            if rendered is None:
                continue
            message_id = message_id_header(message.idempotency_key)
            unsubscribe = contexts[message.pk]["unsubscribe_url"]
            email = EmailMultiAlternatives(
                subject=rendered.subject,
                body=rendered.text,
                from_email=message.template.from_email or settings.DEFAULT_FROM_EMAIL,
                to=[message.to_address],
                connection=connection,
                headers={
                    "Message-ID": message_id,
                    "List-Unsubscribe": (
                        f"<{unsubscribe}>, <mailto:{_unsubscribe_mailto()}?subject=unsubscribe>"
                    ),
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "X-Winback-Message": str(message.pk),
                },
            )
            email.attach_alternative(rendered.html, "text/html")
            email.metadata = {"winback_message_id": str(message.pk)}  # django-anymail: sent to the ESP
            limiter.wait()
            try:
                accepted = connection.send_messages([email])
            except Exception as exc:
                # This one may have reached the server before the error: failed, never resent.
                claim.failed(message, f"send error: {type(exc).__name__}: {exc}")
                errors_in_a_row += 1
                connection.close()
                try:  # a fresh connection for the rest; none to be had: the server is down
                    connection.open()
                except Exception as open_exc:
                    logger.warning("email connection lost, %d messages released: %s", len(messages), open_exc)
                    claim.release(messages[index + 1 :])
                    return
                if errors_in_a_row >= MAX_SEND_ERRORS_IN_A_ROW:
                    logger.warning(
                        "%d email send errors in a row, the rest of the batch released", errors_in_a_row
                    )
                    claim.release(messages[index + 1 :])
                    return
                continue
            if not accepted:
                claim.failed(message, "the email backend did not accept the message")
                continue
            errors_in_a_row = 0
            status = getattr(email, "anymail_status", None)  # django-anymail: the ESP's id
            provider_id = getattr(status, "message_id", None) or message_id
            claim.sent(message, provider_id=str(provider_id), subject=rendered.subject)
    finally:
        connection.close()


def _send_sms(messages: list[Message], contexts: dict[int, dict], claim: _Claim) -> None:
    try:
        backend = sms_backends.get_backend()
        backend.open()
    except Exception as exc:
        logger.warning("SMS backend unavailable, %d messages released: %s", len(messages), exc)
        claim.release(messages)
        return
    limiter = RateLimiter(channel_rate(Channel.SMS))
    errors_in_a_row = 0
    try:
        for index, message in enumerate(messages):
            if claim.too_slow():
                claim.release(messages[index:])
                return
            rendered = _render(message, contexts, claim)
            if rendered is None:
                continue
            if not rendered.sms:
                claim.failed(message, "render error: the SMS text is empty")
                continue
            limiter.wait()
            try:
                sid = backend.send(
                    sms_backends.Sms(
                        to=message.to_address,
                        body=rendered.sms,
                        sender=settings.MESSAGING_SMS_FROM,
                        message_id=message.pk,
                    )
                )
            except ProviderUnavailable as exc:
                logger.warning(
                    "SMS provider unavailable, %d messages released: %s", len(messages) - index, exc
                )
                claim.release(messages[index:])
                return
            except Exception as exc:
                claim.failed(message, f"send error: {exc}")
                errors_in_a_row += 1
                if errors_in_a_row >= MAX_SEND_ERRORS_IN_A_ROW:
                    logger.warning(
                        "%d SMS send errors in a row, the rest of the batch released", errors_in_a_row
                    )
                    claim.release(messages[index + 1 :])
                    return
                continue
            errors_in_a_row = 0
            claim.sent(message, provider_id=sid)
    finally:
        backend.close()


def _send_pushes(messages: list[Message], contexts: dict[int, dict], claim: _Claim) -> None:
    try:
        backend = push_backends.get_backend()
    except Exception as exc:
        logger.warning("push backend unavailable, %d messages released: %s", len(messages), exc)
        claim.release(messages)
        return
    subscriptions: dict[int, list[PushSubscription]] = defaultdict(list)
    for subscription in PushSubscription.objects.filter(
        contact_id__in={m.contact_id for m in messages}, active=True
    ).order_by("id"):
        subscriptions[subscription.contact_id].append(subscription)
    limiter = RateLimiter(channel_rate(Channel.PUSH))
    worked: list[int] = []
    gone: list[int] = []
    try:
        for index, message in enumerate(messages):
            if claim.too_slow():
                claim.release(messages[index:])
                return
            rendered = _render(message, contexts, claim)
            if rendered is None:
                continue
            errors: list[str] = []
            delivered = 0
            for subscription in subscriptions.get(message.contact_id, []):
                limiter.wait()
                try:
                    backend.send(
                        push_backends.Push(
                            endpoint=subscription.endpoint,
                            p256dh=subscription.p256dh,
                            auth=subscription.auth,
                            payload={**rendered.push, "message_id": message.pk},
                        )
                    )
                except push_backends.SubscriptionGone as exc:
                    gone.append(subscription.pk)
                    errors.append(str(exc))
                except SendError as exc:
                    errors.append(str(exc))
                else:
                    delivered += 1
                    worked.append(subscription.pk)
            if delivered:
                claim.sent(
                    message, provider_id=f"{delivered} subscription(s)", subject=rendered.push["title"]
                )
            else:
                claim.failed(message, "send error: " + ("; ".join(errors) or "no active push subscription"))
    finally:
        if worked:
            PushSubscription.objects.filter(pk__in=worked).update(last_success_at=now())
        if gone:
            PushSubscription.objects.filter(pk__in=gone).update(active=False)


def messages_recover_interrupted(*, older_than: dt.timedelta | None = None) -> int:
    """Mark messages stuck in `sending` (their worker died) as failed. They may have reached the
    provider, so they are never re-sent: no duplicates. Returns how many were marked."""
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.MESSAGING_SENDING_TIMEOUT_SECONDS)
    return Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=now() - older_than).update(
        status=Message.Status.FAILED,
        reason="interrupted: the worker stopped while sending; not retried so it is never sent twice",
    )


def messages_redeliver_stale(*, older_than: dt.timedelta | None = None) -> int:
    """Hand messages that stayed queued too long (lost task, released batch) to delivery again.
    Harmless if another task also has them: delivery claims only queued rows."""
    from messaging.selectors import messages_stale_queued

    if older_than is None:
        older_than = dt.timedelta(minutes=10)
    ids = messages_stale_queued(older_than=older_than)
    messages_deliver_later(message_ids=ids)
    return len(ids)


# --- Tracking --------------------------------------------------------------------------------

CLICK_EVENT = {
    Channel.EMAIL: Event.Kind.EMAIL_CLICK,
    Channel.SMS: Event.Kind.SMS_CLICK,
    Channel.PUSH: Event.Kind.PUSH_CLICK,
}


# Clicks after this many recorded per message still redirect but add no event (replayed links).
MAX_CLICK_EVENTS_PER_MESSAGE = 20


def message_open_record(*, message_id: int) -> bool:
    """First open of an email: sets opened_at and records an email_open event. Later opens (every
    time the email is viewed) cost one UPDATE that matches nothing; the first open time is kept."""
    moment = now()
    if not Message.objects.filter(pk=message_id, opened_at__isnull=True).update(opened_at=moment):
        return False
    contact_id = Message.objects.filter(pk=message_id).values_list("contact_id", flat=True).first()
    if contact_id is not None:
        Event.objects.create(
            contact_id=contact_id, kind=Event.Kind.EMAIL_OPEN, message_id=message_id, occurred_at=moment
        )
    return True


def message_click_record(*, message_id: int, url: str) -> bool:
    """A click is an event (with the URL), at most MAX_CLICK_EVENTS_PER_MESSAGE per message; the
    first sets clicked_at (and opened_at of an email if unset). Three or four queries."""
    moment = now()
    first = Message.objects.filter(pk=message_id, clicked_at__isnull=True).update(
        clicked_at=moment,
        opened_at=Case(
            When(channel=Channel.EMAIL, opened_at__isnull=True, then=Value(moment)),
            default=F("opened_at"),
        ),
    )
    row = Message.objects.filter(pk=message_id).values("contact_id", "channel").first()
    if row is None:
        return False
    kind = CLICK_EVENT[row["channel"]]
    if not first:
        recorded = Event.objects.filter(message_id=message_id, kind=kind)[
            :MAX_CLICK_EVENTS_PER_MESSAGE
        ].count()
        if recorded >= MAX_CLICK_EVENTS_PER_MESSAGE:
            return False
    Event.objects.create(
        contact_id=row["contact_id"],
        kind=kind,
        message_id=message_id,
        occurred_at=moment,
        properties={"url": url[:1000]},
    )
    return True


# --- Consent ---------------------------------------------------------------------------------

CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PUSH)


def contact_preferences_update(
    *,
    contact_id: int,
    consents: dict[str, bool],
    source: str = Contact.ConsentSource.PREFERENCES,
    message_id: int | None = None,
) -> bool:
    """Set per-channel consent. Turning a channel off records an unsubscribe event; a contact left
    with no consent at all becomes `unsubscribed`; one who opts in again becomes `active` (unless
    bounced or anonymized). Sends contacts_changed after commit. Returns whether anything changed."""
    moment = now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None or contact.status == Contact.Status.ANONYMIZED:
            return False
        changes: dict[str, object] = {}
        turned_off: list[str] = []
        for channel, wanted in consents.items():
            if channel not in CHANNELS or getattr(contact, f"{channel}_consent") == wanted:
                continue
            changes.update(
                {
                    f"{channel}_consent": wanted,
                    f"{channel}_consent_at": moment,
                    f"{channel}_consent_source": source,
                }
            )
            if not wanted:
                turned_off.append(channel)
        if not changes:
            return False
        remaining = any(changes.get(f"{c}_consent", getattr(contact, f"{c}_consent")) for c in CHANNELS)
        if not remaining and contact.status == Contact.Status.ACTIVE:
            changes["status"] = Contact.Status.UNSUBSCRIBED
        elif remaining and contact.status == Contact.Status.UNSUBSCRIBED:
            changes["status"] = Contact.Status.ACTIVE
        changes["updated_at"] = moment
        Contact.objects.filter(pk=contact_id).update(**changes)
        if turned_off:
            Event.objects.bulk_create(
                Event(
                    contact_id=contact_id,
                    kind=Event.Kind.UNSUBSCRIBE,
                    occurred_at=moment,
                    message_id=message_id,
                    properties={"channel": channel, "source": source},
                )
                for channel in turned_off
            )
            if message_id:
                Message.objects.filter(
                    pk=message_id, contact_id=contact_id, channel__in=turned_off, unsubscribed_at__isnull=True
                ).update(unsubscribed_at=moment)
        _contacts_changed_on_commit([contact_id])
    return True


def unsubscribe_channel(*, contact_id: int, message_id: int | None) -> str:
    """The channel an unsubscribe link is about: its message's (an SMS link stops SMS), else email."""
    if message_id is None:
        return Channel.EMAIL
    channel = (
        Message.objects.filter(pk=message_id, contact_id=contact_id).values_list("channel", flat=True).first()
    )
    return channel or Channel.EMAIL


def contact_unsubscribe(
    *, contact_id: int, message_id: int | None = None, channel: str | None = None
) -> bool:
    """The unsubscribe link / List-Unsubscribe one-click: consent off for that channel (default: the
    channel of `message_id`, else email)."""
    if channel is None:
        channel = unsubscribe_channel(contact_id=contact_id, message_id=message_id)
    return contact_preferences_update(
        contact_id=contact_id,
        consents={channel: False},
        source=Contact.ConsentSource.UNSUBSCRIBE,
        message_id=message_id,
    )


# --- Provider webhooks -----------------------------------------------------------------------


def delivery_event_record(
    *, kind: str, email: str = "", message_id: int | None = None, payload: dict | None = None
) -> DeliveryEvent:
    """A bounce (contact -> bounced, message -> bounced) or complaint (email consent off,
    contact -> unsubscribed) reported by the provider. Logged as a DeliveryEvent either way."""
    if kind not in DeliveryEvent.Kind.values:
        raise ValidationError(f"Unknown delivery event type {kind!r} (bounce or complaint).")
    email = (email or "").strip().lower()
    message = Message.objects.filter(pk=message_id).first() if message_id else None
    contact_id = message.contact_id if message else None
    if contact_id is None and email:
        contact_id = Contact.objects.filter(email=email).values_list("id", flat=True).first()
    moment = now()
    with transaction.atomic():
        event = DeliveryEvent.objects.create(
            kind=kind, email=email, message=message, contact_id=contact_id, payload=payload or {}
        )
        if contact_id is None:
            return event
        live = Contact.objects.filter(pk=contact_id).exclude(status=Contact.Status.ANONYMIZED)
        if kind == DeliveryEvent.Kind.BOUNCE:
            live.update(status=Contact.Status.BOUNCED, updated_at=moment)
            if message:
                Message.objects.filter(pk=message.pk).update(status=Message.Status.BOUNCED, reason="bounced")
            Event.objects.create(
                contact_id=contact_id, kind=Event.Kind.BOUNCE, message_id=message_id, occurred_at=moment
            )
        else:
            live.update(
                email_consent=False,
                email_consent_at=moment,
                email_consent_source=Contact.ConsentSource.UNSUBSCRIBE,
                updated_at=moment,
            )
            live.filter(status=Contact.Status.ACTIVE).update(status=Contact.Status.UNSUBSCRIBED)
            if message:
                Message.objects.filter(pk=message.pk, unsubscribed_at__isnull=True).update(
                    unsubscribed_at=moment
                )
            Event.objects.create(
                contact_id=contact_id, kind=Event.Kind.COMPLAINT, message_id=message_id, occurred_at=moment
            )
        _contacts_changed_on_commit([contact_id])
    return event


# --- Push subscriptions ----------------------------------------------------------------------


# Browsers of one contact that get a push (older ones are deactivated when a new one subscribes).
MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT = 10
PUSH_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")


def push_endpoint_problem(endpoint: str) -> str:
    """Why the worker must not POST to this endpoint ("" if fine): anyone holding a contact's
    subscribe token chooses it, so only https on a public host name (no IP literals, no local
    names, no credentials). With DEBUG, http://127.0.0.1 and localhost work for development."""
    if len(endpoint) > 1000:
        return "The push endpoint is too long."
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "The push endpoint is not a valid URL."
    if settings.DEBUG and parts.scheme in ("http", "https") and host in ("127.0.0.1", "localhost"):
        return ""
    labels = host.split(".")
    if (
        parts.scheme != "https"
        or not host
        or parts.username is not None
        or len(labels) < 2
        or not labels[-1].isalpha()  # IP literals, 2130706433, 0x7f000001, [::1]
        or host.endswith(PUSH_LOCAL_SUFFIXES)
    ):
        return "A push endpoint must be an https URL on a push service's public host name."
    if not _push_host_allowed(host):
        return "The push endpoint's host is not a known push service (MESSAGING_PUSH_ENDPOINT_HOSTS)."
    return ""


def _push_host_allowed(host: str) -> bool:
    """Host names resolve anywhere; an allowlist of push services closes the SSRF gap."""
    for pattern in settings.MESSAGING_PUSH_ENDPOINT_HOSTS:
        if pattern == "*" or host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def push_subscription_upsert(
    *, contact_id: int, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> PushSubscription:
    """Store (or move/reactivate) a browser subscription; granting permission is push consent."""
    problem = push_endpoint_problem(endpoint)
    if problem:
        raise ValidationError(problem)
    if not p256dh or not auth or len(p256dh) > 200 or len(auth) > 100:
        raise ValidationError("The subscription keys (p256dh, auth) are missing or too long.")
    if not Contact.objects.filter(pk=contact_id).exclude(status=Contact.Status.ANONYMIZED).exists():
        raise ValidationError("Unknown contact.")
    moment = now()
    with transaction.atomic():
        subscription, _created = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={
                "contact_id": contact_id,
                "p256dh": p256dh,
                "auth": auth,
                "user_agent": user_agent[:300],
                "active": True,
            },
        )
        others = PushSubscription.objects.filter(contact_id=contact_id, active=True).exclude(
            pk=subscription.pk
        )
        kept = list(
            others.order_by("-created_at", "-id").values_list("id", flat=True)[
                : MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT - 1
            ]
        )
        others.exclude(id__in=kept).update(active=False)
        changed = Contact.objects.filter(pk=contact_id, push_consent=False).update(
            push_consent=True,
            push_consent_at=moment,
            push_consent_source=Contact.ConsentSource.API,
            updated_at=moment,
        )
        if changed:
            _contacts_changed_on_commit([contact_id])
    return subscription


def messages_forget(*, contact_ids: list[int], mode: str = "anonymize") -> None:
    """Remove what messaging holds that identifies these contacts, set-based (GDPR erasure).

    Bounce/complaint webhook rows lose their address and payload (they outlive a deleted contact:
    their FK is SET_NULL). On anonymize, messages keep status and dates (counts, caps, reports) but
    lose address, rendered subject and template values, and push subscriptions go; on delete those
    rows cascade with the contact anyway.
    """
    DeliveryEvent.objects.filter(contact_id__in=contact_ids).update(email="", payload={})
    if mode == "delete":
        return
    PushSubscription.objects.filter(contact_id__in=contact_ids).delete()
    Message.objects.filter(contact_id__in=contact_ids).update(to_address="", subject="", context={})


def on_contacts_forgotten(sender, *, contact_ids: list[int], mode: str, **kwargs) -> None:
    """Receiver of contacts.signals.contacts_forgotten (connected in MessagingConfig.ready())."""
    messages_forget(contact_ids=contact_ids, mode=mode)
