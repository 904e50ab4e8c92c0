"""What happens after a worker died or a send failed: the sweep (beat, every
MESSAGING_SWEEP_SECONDS), lost tasks, and the marketer's retry of failed and in-doubt messages."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils.timezone import now

from messaging.models import Message
from messaging.services.queueing import messages_deliver_later

logger = logging.getLogger(__name__)

RETRYABLE = (Message.Status.FAILED, Message.Status.IN_DOUBT)


@dataclass
class SweepReport:
    requeued: int = 0  # claimed, never started: back to the queue and handed to delivery
    in_doubt: int = 0  # started, outcome never recorded

    def __str__(self) -> str:
        return f"{self.requeued} requeued, {self.in_doubt} in doubt"


def messages_recover_expired(*, at: dt.datetime | None = None) -> SweepReport:
    """Messages in `sending` whose lease ran out (their worker died or hung): those whose attempt had
    not started go back to `queued` and to delivery; those handed to the provider become `in_doubt`."""
    moment = at or now()
    legacy_cutoff = moment - dt.timedelta(seconds=settings.MESSAGING_LEASE_SECONDS)
    expired = Message.objects.filter(status=Message.Status.SENDING).filter(
        Q(lease_until__lt=moment) | Q(lease_until__isnull=True, claimed_at__lt=legacy_cutoff)
    )
    # Rows claimed before leases existed (no lease_until) may have been handed over: in doubt.
    never_started = Q(attempt_started_at__isnull=True, lease_until__isnull=False)
    unstarted = list(expired.filter(never_started).values_list("id", flat=True)[:10000])
    report = SweepReport()
    if unstarted:
        # Same conditions again: a row whose worker started it meanwhile stays with that worker.
        report.requeued = expired.filter(never_started, id__in=unstarted).update(
            status=Message.Status.QUEUED, claim_token="", claimed_at=None, lease_until=None
        )
        messages_deliver_later(message_ids=unstarted)
    report.in_doubt = expired.exclude(never_started).update(
        status=Message.Status.IN_DOUBT,
        lease_until=None,
        reason=(
            "in doubt: handed to the provider, but the worker stopped before the answer was recorded; "
            "it may have arrived. Retry it from the outbox (same Message-ID)."
        ),
    )
    if report.requeued or report.in_doubt:
        logger.warning("delivery sweep: %s", report)
    return report


def messages_recover_interrupted() -> int:
    """The sweep as the beat task calls it; returns how many rows it changed."""
    report = messages_recover_expired()
    return report.requeued + report.in_doubt


def messages_redeliver_stale(*, older_than: dt.timedelta | None = None) -> int:
    """Hand messages that stayed queued too long (lost task, released batch, retry due) to delivery
    again. Harmless if another task also has them: delivery claims only queued rows."""
    from messaging.selectors import messages_stale_queued

    if older_than is None:
        older_than = dt.timedelta(seconds=settings.MESSAGING_STALE_QUEUED_SECONDS)
    ids = messages_stale_queued(older_than=older_than)
    messages_deliver_later(message_ids=ids)
    return len(ids)


def messages_retry(*, message_ids: list[int]) -> list[int]:
    """Failed and in-doubt messages back to the queue with a fresh attempt count, handed to delivery
    after commit (suppression is checked again when sent). Returns the ids queued. An in-doubt
    email keeps its Message-ID, so a receiver that deduplicates drops it if the first one arrived."""
    ids = list(Message.objects.filter(id__in=message_ids, status__in=RETRYABLE).values_list("id", flat=True))
    if not ids:
        return []
    Message.objects.filter(id__in=ids, status__in=RETRYABLE).update(
        status=Message.Status.QUEUED,
        claim_token="",
        claimed_at=None,
        lease_until=None,
        attempt_started_at=None,
        attempts=0,
        next_attempt_at=None,
        reason="",
    )
    messages_deliver_later(message_ids=ids)
    return ids
