"""Delivery bookkeeping: the lease on claimed messages, their outcomes, rate limiting, Message-IDs.

The delivery guarantee (README "Guarantees > Delivery") rests on three writes per message, each
committed on its own before the next step:

1. claim: `queued -> sending` for a few messages (MESSAGING_CLAIM_SIZE) with a lease
   (`lease_until`). Nothing was handed to anyone yet: if the worker dies now, the sweep puts them
   back to `queued` once the lease runs out and they are sent.
2. start: `attempt_started_at` set (and the lease renewed) right before this one message is handed
   to the SMTP server/provider. Only rows still ours and `sending` start: a row the sweep took back
   is never handed over twice.
3. outcome: `sent` / `failed` / retry later (`queued` with `next_attempt_at`) / `in_doubt`, written
   as soon as the provider answered. To save a round trip per message, a `sent` outcome is written
   together with the next message's "start" (on PostgreSQL in one statement, so both commit or
   neither), or on its own before any other write and at the end of the call. It is always committed
   before the next message is handed over, so at any moment at most one message per lease has an
   attempt started and no outcome. A delivery call holds one lease per connection it sends over
   (MESSAGING_DELIVERY_CONNECTIONS, each a thread sending one message at a time).

A worker killed between 2 and 3 leaves that message `sending` with an attempt started (one per
connection): when its lease runs out the sweep marks it `in_doubt` (never re-sent by itself).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils.timezone import now

from messaging.models import Channel, Message

# This many send errors in a row look like a provider outage: the rest of the batch is released
# (back to queued, retried later) instead of failing one by one.
MAX_SEND_ERRORS_IN_A_ROW = 5
# Longest wait between two attempts of a transiently failing message.
MAX_RETRY_DELAY_SECONDS = 3600


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    in_doubt: list[int] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # not queued any more (sent, claimed elsewhere, ...)
    requeued: list[int] = field(default_factory=list)  # released unsent (connection down, provider outage)
    retrying: list[int] = field(default_factory=list)  # transient failure: queued again for a later attempt
    retry_in: float | None = None  # seconds until the first of `retrying` is due
    retry_due: dict[float, list[int]] = field(default_factory=dict)  # back-off seconds -> those due then

    def __str__(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.failed)} failed, {len(self.in_doubt)} in doubt, "
            f"{len(self.suppressed)} suppressed, {len(self.skipped)} skipped, "
            f"{len(self.requeued)} requeued, {len(self.retrying)} retrying"
        )


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


@functools.lru_cache(maxsize=16)
def _address_of(value: str) -> str:
    """parseaddr()'s address, once per setting value (delivery asks twice per email)."""
    return parseaddr(value)[1]


def _sender_domain() -> str:
    address = _address_of(settings.DEFAULT_FROM_EMAIL)
    return address.rpartition("@")[2] or "winback.invalid"


def message_id_header(idempotency_key: str) -> str:
    """Stable RFC 5322 Message-ID: the same message always gets the same id (on every attempt), so
    receivers that deduplicate by Message-ID drop a retried copy."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{_sender_domain()}>"


def _unsubscribe_mailto() -> str:
    return settings.MESSAGING_UNSUBSCRIBE_MAILTO or _address_of(settings.DEFAULT_FROM_EMAIL)


def retry_delay(attempts: int) -> float:
    """Back-off before attempt `attempts + 1`: base x 2^(attempts-1), at most an hour."""
    base = settings.MESSAGING_RETRY_BACKOFF_SECONDS
    return float(min(base * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY_SECONDS))


class Lease:
    """The messages one delivery call holds: claimed a few at a time, each outcome written at once."""

    def __init__(self, report: DeliveryReport):
        self.token = uuid.uuid4().hex
        self.report = report
        # A `sent` outcome not written yet: (message id, column values). See the module docstring.
        self.pending_sent: tuple[int, dict] | None = None

    def _lease_until(self, moment: dt.datetime) -> dt.datetime:
        return moment + dt.timedelta(seconds=settings.MESSAGING_LEASE_SECONDS)

    def _ours(self, *message_ids: int):
        return Message.objects.filter(pk__in=message_ids, claim_token=self.token)

    def claim(self, message_ids: list[int]) -> list[Message]:
        """queued -> sending for those of `message_ids` that are queued and due (one UPDATE)."""
        self.flush()
        moment = now()
        Message.objects.filter(id__in=message_ids, status=Message.Status.QUEUED).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=moment)
        ).update(
            status=Message.Status.SENDING,
            claim_token=self.token,
            claimed_at=moment,
            lease_until=self._lease_until(moment),
            attempt_started_at=None,
        )
        messages = list(
            Message.objects.filter(id__in=message_ids, claim_token=self.token, status=Message.Status.SENDING)
            .select_related("contact", "template")
            .order_by("id")
        )
        claimed = {m.pk for m in messages}
        self.report.skipped.extend(i for i in message_ids if i not in claimed)
        return messages

    def start(self, message: Message) -> bool:
        """Record that this message is being handed to the provider now. False: no longer ours."""
        moment = now()
        if self.pending_sent is not None and connection.vendor == "postgresql":
            started = self._sent_and_start(message.pk, moment)
        else:
            self.flush()
            started = (
                self._ours(message.pk)
                .filter(status=Message.Status.SENDING)
                .update(
                    attempt_started_at=moment,
                    attempts=F("attempts") + 1,
                    lease_until=self._lease_until(moment),
                )
            )
        if not started:
            self.report.skipped.append(message.pk)
            return False
        message.attempts += 1
        return True

    def flush(self) -> None:
        """Write the pending `sent` outcome, if any."""
        if self.pending_sent is None:
            return
        pk, values = self.pending_sent
        self.pending_sent = None
        self._ours(pk).filter(status__in=[Message.Status.SENDING, Message.Status.IN_DOUBT]).update(
            lease_until=None, next_attempt_at=None, **values
        )

    def _sent_and_start(self, pk: int, moment: dt.datetime) -> int:
        """PostgreSQL: the pending `sent` outcome and the start of message `pk` in one statement."""
        done_pk, values = self.pending_sent
        self.pending_sent = None
        table = connection.ops.quote_name(Message._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH done AS (UPDATE {table} SET status = %s, sent_at = %s, reason = '', "
                "provider_message_id = %s, subject = %s, to_address = %s, lease_until = NULL, "
                "next_attempt_at = NULL WHERE id = %s AND claim_token = %s AND status IN (%s, %s) "
                f"RETURNING id) UPDATE {table} SET attempt_started_at = %s, attempts = attempts + 1, "
                "lease_until = %s WHERE id = %s AND claim_token = %s AND status = %s",
                [
                    values["status"],
                    values["sent_at"],
                    values["provider_message_id"],
                    values["subject"],
                    values["to_address"],
                    done_pk,
                    self.token,
                    Message.Status.SENDING,
                    Message.Status.IN_DOUBT,
                    moment,
                    self._lease_until(moment),
                    pk,
                    self.token,
                    Message.Status.SENDING,
                ],
            )
            return cursor.rowcount

    def _finish(self, message: Message, **values: object) -> None:
        self.flush()
        # `in_doubt` too: a sweep may have judged a slow but living send while we waited for the answer.
        self._ours(message.pk).filter(status__in=[Message.Status.SENDING, Message.Status.IN_DOUBT]).update(
            lease_until=None, next_attempt_at=None, **values
        )

    def sent(self, message: Message, *, provider_id: str = "", subject: str = "") -> None:
        """Accepted: written with the next start or write (see the module docstring)."""
        self.flush()
        self.pending_sent = (
            message.pk,
            {
                "status": Message.Status.SENT,
                "sent_at": now(),
                "reason": "",
                "provider_message_id": provider_id[:255],
                "subject": subject[:255],
                "to_address": message.to_address,
            },
        )
        self.report.sent.append(message.pk)

    def failed(self, message: Message, reason: str) -> None:
        self._finish(message, status=Message.Status.FAILED, reason=reason[:2000])
        self.report.failed.append(message.pk)

    def in_doubt(self, message: Message, reason: str) -> None:
        self._finish(message, status=Message.Status.IN_DOUBT, reason=reason[:2000])
        self.report.in_doubt.append(message.pk)

    def retry(self, message: Message, reason: str) -> None:
        """A transient failure: queued again after a back-off, or failed after MESSAGING_MAX_ATTEMPTS."""
        if message.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
            self.failed(message, f"gave up after {message.attempts} attempts: {reason}")
            return
        delay = retry_delay(message.attempts)
        self.flush()
        # `in_doubt` too: the sweep may have judged a slow answer; a 4xx is a definite "not sent".
        self._ours(message.pk).filter(status__in=[Message.Status.SENDING, Message.Status.IN_DOUBT]).update(
            status=Message.Status.QUEUED,
            claim_token="",
            lease_until=None,
            next_attempt_at=now() + dt.timedelta(seconds=delay),
            reason=f"attempt {message.attempts} failed, retried in {delay:.0f} s: {reason}"[:2000],
        )
        self.report.retrying.append(message.pk)
        self.report.retry_due.setdefault(delay, []).append(message.pk)
        self.report.retry_in = delay if self.report.retry_in is None else min(self.report.retry_in, delay)

    def suppressed(self, by_reason: dict[str, list[int]]) -> None:
        self.flush()
        for reason, ids in by_reason.items():
            self._ours(*ids).update(status=Message.Status.SUPPRESSED, reason=reason, lease_until=None)
            self.report.suppressed.extend(ids)

    def release(self, messages: list[Message]) -> None:
        """Back to the queue, unsent (only rows whose attempt has not started)."""
        ids = [m.pk for m in messages]
        self.flush()
        self._ours(*ids).filter(status=Message.Status.SENDING, attempt_started_at__isnull=True).update(
            status=Message.Status.QUEUED, claim_token="", claimed_at=None, lease_until=None
        )
        self.report.requeued.extend(ids)

    def release_unstarted(self) -> int:
        """Whatever is still ours and unstarted (an exception left the loop early) goes back."""
        self.flush()
        return Message.objects.filter(
            claim_token=self.token, status=Message.Status.SENDING, attempt_started_at__isnull=True
        ).update(status=Message.Status.QUEUED, claim_token="", claimed_at=None, lease_until=None)
