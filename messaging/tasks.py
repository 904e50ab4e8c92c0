"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from messaging import services

# Released messages (provider down) are handed over again after this long.
REQUEUE_COUNTDOWN_SECONDS = 60


@shared_task(name="messaging.deliver", acks_late=True)
def deliver(message_ids: list[int]) -> str:
    """Send queued messages. Redelivering the same ids is harmless: only queued rows are claimed."""
    try:
        report = services.messages_deliver(message_ids=message_ids)
    except services.DeliveryFailed as exc:
        _follow_ups(exc.report)  # what the other connections released or will retry
        raise
    _follow_ups(report)
    return str(report)


def _follow_ups(report) -> None:
    if report.requeued:  # the provider was unreachable: try those again later
        deliver.apply_async(args=[report.requeued], countdown=REQUEUE_COUNTDOWN_SECONDS)
    # Transient failures: each handed over again when its back-off ends (messages of one task may be
    # at different attempts, so due at different times).
    for delay, ids in sorted(report.retry_due.items()):
        deliver.apply_async(args=[ids], countdown=delay)


@shared_task(name="messaging.recover_interrupted")
def recover_interrupted() -> int:
    """The sweep: expired leases back to the queue (never started) or in doubt (started)."""
    return services.messages_recover_interrupted()


@shared_task(name="messaging.redeliver_stale")
def redeliver_stale() -> int:
    return services.messages_redeliver_stale()
