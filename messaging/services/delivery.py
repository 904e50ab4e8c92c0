"""Delivery: claim a few queued messages at a time, check suppression again, render, send each one
and record its outcome at once (see claims.py for the lease and the guarantee).

A delivery call sends over MESSAGING_DELIVERY_CONNECTIONS connections at once (threads, each with its
own provider connection, database connection and lease, each sending one message at a time): the
waits for the provider's answer and for the database's commit of each outcome overlap, which one
connection spends idle. smtplib, requests and psycopg release the GIL while they wait.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, connections

from messaging.models import Channel, Message
from messaging.rendering import template_render
from messaging.selectors import render_contexts
from messaging.services.channels import FAILED, IN_DOUBT, SENDERS, SendFailure
from messaging.services.claims import MAX_SEND_ERRORS_IN_A_ROW, DeliveryReport, Lease
from messaging.services.suppression import _address, _push_subscribed, _suppression_reason

logger = logging.getLogger(__name__)


class _Senders:
    """One sender per channel for the whole call, opened on first use; a channel that cannot be
    reached (or fails MAX_SEND_ERRORS_IN_A_ROW times in a row) is "down": its remaining messages
    go back to the queue unsent."""

    def __init__(self, share: int = 1) -> None:
        self.share = share  # this many senders share the channel's rate limit
        self.open: dict[str, object] = {}
        self.down: set[str] = set()
        self.errors_in_a_row: dict[str, int] = defaultdict(int)

    def get(self, channel: str):
        if channel in self.down:
            return None
        sender = self.open.get(channel)
        try:
            if sender is None:
                sender = self.open[channel] = SENDERS[channel](share=self.share)
            sender.open()
        except Exception as exc:
            logger.warning("%s provider unavailable, its messages go back to the queue: %s", channel, exc)
            self.down.add(channel)
            return None
        return sender

    def outcome(self, channel: str, *, ok: bool, provider_down: bool = False) -> None:
        self.errors_in_a_row[channel] = 0 if ok else self.errors_in_a_row[channel] + 1
        if provider_down or self.errors_in_a_row[channel] >= MAX_SEND_ERRORS_IN_A_ROW:
            logger.warning("%s provider down or failing, the rest goes back to the queue", channel)
            self.down.add(channel)

    def close(self) -> None:
        for sender in self.open.values():
            try:
                sender.close()
            except Exception:
                logger.exception("closing the %s sender failed", sender.channel)


def messages_deliver(*, message_ids: list[int]) -> DeliveryReport:
    """Send the queued ones of `message_ids`: claimed MESSAGING_CLAIM_SIZE at a time with a lease,
    re-checked for suppression, rendered (a render error fails that message only), sent per channel
    with the configured rate limit over MESSAGING_DELIVERY_CONNECTIONS connections in parallel (each
    a thread sending its share one message at a time). Each outcome is written as soon as the
    provider answered. Messages not queued (sent, claimed elsewhere, waiting for a retry) are skipped."""
    ids = sorted(set(message_ids))
    size = settings.MESSAGING_CLAIM_SIZE
    chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
    threads = min(delivery_connections(), len(chunks))
    if threads <= 1:
        return _deliver_share(chunks)
    # Claims dealt out in turn, so every connection starts at once and ends at about the same time.
    shares = [chunks[n::threads] for n in range(threads)]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="delivery") as pool:
        futures = [pool.submit(_deliver_in_thread, share, threads) for share in shares]
        outcomes = [future.result() for future in futures]
    report = _merged([thread_report for thread_report, _error in outcomes])
    errors = [error for _report, error in outcomes if error is not None]
    if errors:
        # The other connections' outcomes still count (their retries and requeues get scheduled).
        raise DeliveryFailed(report) from errors[0]
    return report


class DeliveryFailed(Exception):
    """A delivery connection (thread) failed; `report` holds what every connection did up to then."""

    def __init__(self, report: DeliveryReport) -> None:
        super().__init__(f"a delivery connection failed ({report})")
        self.report = report


def delivery_connections() -> int:
    """Parallel connections for this call: MESSAGING_DELIVERY_CONNECTIONS on PostgreSQL, outside a
    transaction. One on SQLite (its writes take turns anyway) and inside a transaction (the other
    threads' database connections could not see its rows)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return settings.MESSAGING_DELIVERY_CONNECTIONS


def _deliver_share(
    chunks: list[list[int]], share: int = 1, report: DeliveryReport | None = None
) -> DeliveryReport:
    report = report if report is not None else DeliveryReport()
    lease = Lease(report)
    senders = _Senders(share)
    try:
        for chunk in chunks:
            _deliver_chunk(chunk, lease, senders)
    finally:
        lease.flush()  # the last `sent` outcome, before anything that could wait
        senders.close()
        lease.release_unstarted()
    return report


def _deliver_in_thread(chunks: list[list[int]], share: int) -> tuple[DeliveryReport, Exception | None]:
    """One connection's share: its report so far, and the error that stopped it (or None)."""
    report = DeliveryReport()
    try:
        _deliver_share(chunks, share, report)
        return report, None
    except Exception as exc:  # noqa: BLE001 - handed to messages_deliver, raised there after the merge
        return report, exc
    finally:
        connections.close_all()  # this thread's database connection


def _merged(reports: list[DeliveryReport]) -> DeliveryReport:
    merged = DeliveryReport()
    for report in reports:
        for name in ("sent", "failed", "in_doubt", "suppressed", "skipped", "requeued", "retrying"):
            getattr(merged, name).extend(getattr(report, name))
        for delay, ids in report.retry_due.items():
            merged.retry_due.setdefault(delay, []).extend(ids)
    merged.retry_in = min(merged.retry_due, default=None)
    for name in ("sent", "failed", "in_doubt", "suppressed", "skipped", "requeued", "retrying"):
        getattr(merged, name).sort()
    return merged


def _deliver_chunk(ids: list[int], lease: Lease, senders: _Senders) -> None:
    messages = lease.claim(ids)
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
    lease.suppressed(suppress)
    if not eligible:
        return
    contexts = _contexts(eligible, lease)
    for message in eligible:
        if message.pk not in contexts:
            continue
        if message.template.channel != message.channel:
            lease.failed(message, f"render error: the template's channel is now {message.template.channel}")
            continue
        sender = senders.get(message.channel)
        if sender is None:
            lease.release([message])
            continue
        if message.channel == Channel.PUSH:
            sender.prefetch(eligible)
        _deliver_one(message, contexts[message.pk], sender, lease, senders)


def _deliver_one(message: Message, context: dict, sender, lease: Lease, senders: _Senders) -> None:
    try:
        rendered = template_render(
            template=message.template, context=context, message_id=message.pk, track=True
        )
    except Exception as exc:
        lease.failed(message, f"render error: {type(exc).__name__}: {exc}")
        return
    if not lease.start(message):
        return  # the sweep took it back (our lease ran out): someone else sends it
    try:
        provider_id, subject = sender.send(message, rendered, context)
    except SendFailure as failure:
        senders.outcome(message.channel, ok=False, provider_down=failure.provider_down)
        if failure.kind == FAILED:
            lease.failed(message, failure.reason)
        elif failure.kind == IN_DOUBT:
            lease.in_doubt(message, f"in doubt: {failure.reason}")
        else:
            lease.retry(message, failure.reason)
        return
    senders.outcome(message.channel, ok=True)
    lease.sent(message, provider_id=provider_id, subject=subject)


def _contexts(messages: list[Message], lease: Lease) -> dict[int, dict]:
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
            lease.failed(message, f"render error: {type(exc).__name__}: {exc}")
    return contexts
