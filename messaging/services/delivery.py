"""Delivery: claim queued messages, check suppression again, render, send, record."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict

from django.conf import settings
from django.utils.timezone import now

from messaging.models import Channel, Message
from messaging.selectors import render_contexts
from messaging.services.channels import _send_emails, _send_pushes, _send_sms
from messaging.services.claims import DeliveryReport, _Claim
from messaging.services.common import _chunks
from messaging.services.queueing import messages_deliver_later
from messaging.services.suppression import _address, _push_subscribed, _suppression_reason

logger = logging.getLogger(__name__)


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
