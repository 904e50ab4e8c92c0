"""Per-channel senders used by delivery: each sends ONE rendered message and says how it went.

A sender returns `(provider_id, subject)` when the provider accepted the message, or raises
`SendFailure` whose `kind` tells delivery what to record:

- RETRY: certainly not accepted, and worth trying again (connection refused, SMTP 4xx, provider
  429/5xx, `ProviderUnavailable`): queued again with back-off, failed after MESSAGING_MAX_ATTEMPTS.
- FAILED: refused for good (SMTP 5xx, provider 4xx, a bad address).
- IN_DOUBT: the connection broke after the message was handed over (disconnect, timeout): it may
  have arrived. Recorded as `in_doubt`, never re-sent by itself.
"""

from __future__ import annotations

import functools
import logging
import secrets
import smtplib
from collections import defaultdict

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils.timezone import now

from messaging import email_bytes
from messaging.backends import ProviderUnavailable, SendError, SendInDoubt
from messaging.backends import push as push_backends
from messaging.backends import sms as sms_backends
from messaging.models import Channel, Message, PushSubscription
from messaging.services.claims import RateLimiter, _unsubscribe_mailto, channel_rate, message_id_header

logger = logging.getLogger(__name__)

RETRY = "retry"
FAILED = "failed"
IN_DOUBT = "in_doubt"


class SendFailure(Exception):
    def __init__(self, kind: str, reason: str, *, provider_down: bool = False):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.provider_down = provider_down  # the rest of the batch goes back to the queue unsent


def send_error_kind(exc: BaseException) -> str:
    """RETRY, FAILED or IN_DOUBT for an exception raised while sending one message."""
    if isinstance(exc, ProviderUnavailable):
        return RETRY
    if isinstance(exc, ConnectionRefusedError | smtplib.SMTPConnectError):
        return RETRY  # nothing was handed over
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        return RETRY if codes and all(400 <= code < 500 for code in codes) else FAILED
    if isinstance(exc, smtplib.SMTPResponseException):  # the server answered: a definite no
        return RETRY if 400 <= exc.smtp_code < 500 else FAILED
    status = getattr(exc, "status_code", None)  # django-anymail's AnymailAPIError (HTTP ESPs)
    if isinstance(status, int):
        return RETRY if status == 429 or status >= 500 else FAILED
    if isinstance(exc, OSError) or (hasattr(exc, "status_code") and status is None):
        return IN_DOUBT  # disconnect or timeout mid-send (OSError), ESP unreachable mid-request
    return FAILED


def _failure(exc: BaseException) -> SendFailure:
    down = isinstance(exc, ProviderUnavailable | ConnectionRefusedError | smtplib.SMTPConnectError)
    return SendFailure(send_error_kind(exc), f"send error: {type(exc).__name__}: {exc}", provider_down=down)


class _Email(EmailMultiAlternatives):
    """An email whose MIME boundary is chosen here: Python's generator would otherwise compile a new
    regular expression per email to check its random boundary against the parts (a fifth of the
    CPU a send costs). A 128-bit random token is checked with a plain substring search instead."""

    def _create_alternatives(self, msg):
        msg = super()._create_alternatives(msg)
        if msg.is_multipart():
            texts = [self.body, *(str(alternative[0]) for alternative in self.alternatives)]
            while True:
                boundary = f"==============={secrets.token_hex(16)}=="
                if not any(boundary in text for text in texts):
                    break
            msg.set_boundary(boundary)
        return msg

    def message(self):
        msg = super().message()
        # Same bytes as Django's as_bytes(), without folding the headers that need none.
        msg.as_bytes = functools.partial(email_bytes.as_bytes, msg)
        return msg


def _smtp_send(backend: SmtpBackend, email: EmailMultiAlternatives) -> int:
    """backend.send_messages([email]) for Django's SMTP backend (opened, fail_silently=False): the
    same envelope and bytes, the envelope addresses sanitized without the header parser."""
    with backend._lock:
        new_connection = backend.open()
        if not backend.connection or new_connection is None:
            return 0
        try:
            recipients = email.recipients()
            if not recipients:
                return 0
            encoding = email.encoding or settings.DEFAULT_CHARSET
            backend.connection.sendmail(
                email_bytes.envelope_address(email.from_email, encoding),
                [email_bytes.envelope_address(address, encoding) for address in recipients],
                email.message().as_bytes(linesep="\r\n"),
            )
            return 1
        finally:
            if new_connection:
                backend.close()


class EmailSender:
    """Django's email backend (SMTP, or an ESP through django-anymail), one connection per call."""

    channel = Channel.EMAIL

    def __init__(self, *, share: int = 1) -> None:
        self.connection = get_connection(fail_silently=False)
        self.limiter = RateLimiter(channel_rate(Channel.EMAIL) / share)
        self.is_open = False

    def open(self) -> None:
        """Raises if the server cannot be reached: delivery then puts the messages back, unsent."""
        if not self.is_open:
            self.connection.open()
            self.is_open = True

    def send(self, message: Message, rendered, context: dict) -> tuple[str, str]:
        message_id = message_id_header(message.idempotency_key)
        unsubscribe = context["unsubscribe_url"]
        email = _Email(
            subject=rendered.subject,
            body=rendered.text,
            from_email=message.template.from_email or settings.DEFAULT_FROM_EMAIL,
            to=[message.to_address],
            connection=self.connection,
            headers={
                # The same on every attempt: the idempotency key for receivers that deduplicate.
                "Message-ID": message_id,
                "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{_unsubscribe_mailto()}?subject=unsubscribe>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "X-Winback-Message": str(message.pk),
            },
        )
        email.attach_alternative(rendered.html, "text/html")
        # django-anymail sends metadata to the ESP; the key identifies the message across attempts.
        email.metadata = {"winback_message_id": str(message.pk), "idempotency_key": message.idempotency_key}
        self.limiter.wait()
        try:
            if type(self.connection) is SmtpBackend:
                accepted = _smtp_send(self.connection, email)
            else:
                accepted = self.connection.send_messages([email])
        except Exception as exc:
            self.close()  # a fresh connection for the next message
            raise _failure(exc) from exc
        if not accepted:
            raise SendFailure(FAILED, "the email backend did not accept the message")
        status = getattr(email, "anymail_status", None)  # django-anymail: the ESP's id
        provider_id = getattr(status, "message_id", None) or message_id
        return str(provider_id), rendered.subject

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            try:
                self.connection.close()
            except Exception:  # already broken
                logger.debug("closing the email connection failed", exc_info=True)


class SmsSender:
    channel = Channel.SMS

    def __init__(self, *, share: int = 1) -> None:
        self.backend = sms_backends.get_backend()
        self.limiter = RateLimiter(channel_rate(Channel.SMS) / share)
        self.is_open = False

    def open(self) -> None:
        if not self.is_open:
            self.backend.open()
            self.is_open = True

    def send(self, message: Message, rendered, context: dict) -> tuple[str, str]:
        if not rendered.sms:
            raise SendFailure(FAILED, "render error: the SMS text is empty")
        self.limiter.wait()
        try:
            sid = self.backend.send(
                sms_backends.Sms(
                    to=message.to_address,
                    body=rendered.sms,
                    sender=settings.MESSAGING_SMS_FROM,
                    message_id=message.pk,
                )
            )
        except ProviderUnavailable as exc:
            raise SendFailure(RETRY, f"send error: {exc}", provider_down=True) from exc
        except SendInDoubt as exc:
            raise SendFailure(IN_DOUBT, f"send error: {exc}") from exc
        except Exception as exc:
            raise SendFailure(FAILED, f"send error: {exc}") from exc
        return sid, ""

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            self.backend.close()


class PushSender:
    """One message goes to each of the contact's active browser subscriptions."""

    channel = Channel.PUSH

    def __init__(self, *, share: int = 1) -> None:
        self.backend = push_backends.get_backend()
        self.limiter = RateLimiter(channel_rate(Channel.PUSH) / share)
        self.subscriptions: dict[int, list[PushSubscription]] = {}
        self.worked: list[int] = []
        self.gone: list[int] = []

    def open(self) -> None:
        pass

    def prefetch(self, messages: list[Message]) -> None:
        wanted = {m.contact_id for m in messages if m.channel == Channel.PUSH} - set(self.subscriptions)
        if not wanted:
            return
        found: dict[int, list[PushSubscription]] = defaultdict(list)
        for subscription in PushSubscription.objects.filter(contact_id__in=wanted, active=True).order_by(
            "id"
        ):
            found[subscription.contact_id].append(subscription)
        for contact_id in wanted:
            self.subscriptions[contact_id] = found.get(contact_id, [])

    def send(self, message: Message, rendered, context: dict) -> tuple[str, str]:
        errors: list[str] = []
        delivered = 0
        transient = False  # a subscription's push service said "later" (429/5xx)
        for subscription in self.subscriptions.get(message.contact_id, []):
            self.limiter.wait()
            try:
                self.backend.send(
                    push_backends.Push(
                        endpoint=subscription.endpoint,
                        p256dh=subscription.p256dh,
                        auth=subscription.auth,
                        payload={**rendered.push, "message_id": message.pk},
                    )
                )
            except push_backends.SubscriptionGone as exc:
                self.gone.append(subscription.pk)
                errors.append(str(exc))
            except ProviderUnavailable as exc:
                transient = True
                errors.append(str(exc))
            except SendError as exc:
                errors.append(str(exc))
            else:
                delivered += 1
                self.worked.append(subscription.pk)
        if not delivered:
            # None went out: retried later if a push service may take it then, else failed.
            raise SendFailure(
                RETRY if transient else FAILED,
                "send error: " + ("; ".join(errors) or "no active push subscription"),
            )
        return f"{delivered} subscription(s)", rendered.push["title"]

    def close(self) -> None:
        if self.worked:
            PushSubscription.objects.filter(pk__in=self.worked).update(last_success_at=now())
        if self.gone:
            PushSubscription.objects.filter(pk__in=self.gone).update(active=False)
        self.worked, self.gone = [], []


SENDERS = {Channel.EMAIL: EmailSender, Channel.SMS: SmsSender, Channel.PUSH: PushSender}
