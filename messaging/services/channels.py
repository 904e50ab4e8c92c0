"""Per-channel senders (email, SMS, push) used by delivery."""

from __future__ import annotations

import logging
from collections import defaultdict

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.timezone import now

from messaging.backends import ProviderUnavailable, SendError
from messaging.backends import push as push_backends
from messaging.backends import sms as sms_backends
from messaging.models import Channel, Message, PushSubscription
from messaging.rendering import template_render
from messaging.services.claims import (
    MAX_SEND_ERRORS_IN_A_ROW,
    RateLimiter,
    _Claim,
    _unsubscribe_mailto,
    channel_rate,
    message_id_header,
)

logger = logging.getLogger(__name__)


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
