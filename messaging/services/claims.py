"""Delivery bookkeeping: the claim of a batch, rate limiting, Message-IDs."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr

from django.conf import settings
from django.db.models import Case, F, Value, When
from django.utils.timezone import now

from messaging.models import Channel, Message

# This many send errors in a row look like a provider outage: the rest of the batch is released
# (back to queued, retried later) instead of failing one by one.
MAX_SEND_ERRORS_IN_A_ROW = 5


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
