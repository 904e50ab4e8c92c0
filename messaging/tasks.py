"""Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from messaging import services


@shared_task(name="messaging.deliver", acks_late=True)
def deliver(message_ids: list[int]) -> str:
    """Send queued messages. Redelivering the same ids is harmless: only queued rows are claimed."""
    report = services.messages_deliver(message_ids=message_ids)
    if report.requeued:  # the provider was unreachable or the batch ran long: try those again later
        deliver.apply_async(args=[report.requeued], countdown=60)
    return str(report)


@shared_task(name="messaging.recover_interrupted")
def recover_interrupted() -> int:
    return services.messages_recover_interrupted()


@shared_task(name="messaging.redeliver_stale")
def redeliver_stale() -> int:
    return services.messages_redeliver_stale()
