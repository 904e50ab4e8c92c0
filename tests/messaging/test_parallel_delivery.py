"""Delivery over MESSAGING_DELIVERY_CONNECTIONS parallel connections (threads, PostgreSQL only).

Each connection is a thread with its own provider connection, database connection and lease, sending
one message at a time: every message is sent once, every outcome is written before that connection's
next send, the queries per batch are fixed, and an interrupted batch loses nothing and sends nothing
twice (the message each connection was handing over is in doubt, never re-sent by itself).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as Locmem
from django.db import connection
from django.db.backends.signals import connection_created

from messaging.models import Message
from messaging.services import messages_deliver, messages_queue, messages_recover_expired
from tests.messaging.test_services import outgoing

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite delivers over one connection"),
]


class ThreadCountingBackend(Locmem):
    """Counts the connections opened and the threads that sent."""

    lock = threading.Lock()
    opened = 0
    threads: set[int] = set()

    def open(self):
        with type(self).lock:
            type(self).opened += 1
        return True

    def send_messages(self, messages):
        with type(self).lock:
            type(self).threads.add(threading.get_ident())
        return super().send_messages(messages)


class Killed(BaseException):
    """Like a worker dying mid-send: not an error delivery catches."""


class KilledMidSendBackend(Locmem):
    """Accepts `accept` emails, then the next send never returns (the process "dies" there)."""

    lock = threading.Lock()
    accept = 0

    def send_messages(self, messages):
        with type(self).lock:
            if type(self).accept <= 0:
                raise Killed
            type(self).accept -= 1
        return super().send_messages(messages)


@pytest.fixture
def count_queries():
    """Every query of every thread's database connection (CaptureQueriesContext sees one thread's)."""
    seen: list[str] = []
    lock = threading.Lock()

    def record(execute, sql, params, many, context):
        with lock:
            seen.append(sql)
        return execute(sql, params, many, context)

    def install(sender, connection, **kwargs):
        connection.execute_wrappers.append(record)

    connection_created.connect(install)
    connection.execute_wrappers.append(record)
    try:
        yield seen
    finally:
        connection_created.disconnect(install)
        connection.execute_wrappers.remove(record)


def test_parallel_connections_send_every_message_once(settings, make_contact, email_template):
    settings.EMAIL_BACKEND = "tests.messaging.test_parallel_delivery.ThreadCountingBackend"
    settings.MESSAGING_DELIVERY_CONNECTIONS = 4
    settings.MESSAGING_CLAIM_SIZE = 5
    ThreadCountingBackend.opened, ThreadCountingBackend.threads = 0, set()
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact()) for _ in range(60)])
    report = messages_deliver(message_ids=ids)
    assert report.sent == ids
    assert ThreadCountingBackend.opened == 4 and len(ThreadCountingBackend.threads) == 4
    assert Counter(m.to[0] for m in mail.outbox).most_common(1)[0][1] == 1 and len(mail.outbox) == 60
    rows = list(Message.objects.all())
    assert {m.status for m in rows} == {Message.Status.SENT}
    assert all(m.attempts == 1 and m.lease_until is None and m.sent_at for m in rows)
    assert messages_deliver(message_ids=ids).skipped == ids  # again: nothing is queued any more
    assert len(mail.outbox) == 60


def test_fewer_claims_than_connections_use_that_many_threads(settings, make_contact, email_template):
    settings.EMAIL_BACKEND = "tests.messaging.test_parallel_delivery.ThreadCountingBackend"
    settings.MESSAGING_DELIVERY_CONNECTIONS = 8
    settings.MESSAGING_CLAIM_SIZE = 10
    ThreadCountingBackend.opened, ThreadCountingBackend.threads = 0, set()
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact()) for _ in range(15)])
    assert messages_deliver(message_ids=ids).sent == ids
    assert ThreadCountingBackend.opened == 2  # two claims of at most 10


def test_queries_per_batch_are_fixed_whatever_the_connections(
    settings, make_contact, email_template, count_queries
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MESSAGING_CLAIM_SIZE = 10
    for connections, size in [(1, 40), (4, 40), (4, 120)]:
        settings.MESSAGING_DELIVERY_CONNECTIONS = connections
        contacts = [make_contact() for _ in range(size)]
        ids = messages_queue(
            template=email_template, outgoing=[outgoing(c, f"q:{connections}:{c.pk}") for c in contacts]
        )
        count_queries.clear()
        assert len(messages_deliver(message_ids=ids).sent) == size
        claims = size // 10
        # Per claim: the claim UPDATE and its SELECT, and the write of its last `sent` outcome; per
        # message one statement (its start, together with the previous message's `sent` outcome);
        # per connection, at the end, releasing what it left unstarted.
        assert len(count_queries) == 3 * claims + size + connections, (connections, size)


def test_an_interrupted_parallel_batch_loses_nothing_and_sends_nothing_twice(
    settings, make_contact, email_template
):
    settings.EMAIL_BACKEND = "tests.messaging.test_parallel_delivery.KilledMidSendBackend"
    settings.MESSAGING_DELIVERY_CONNECTIONS = 4
    settings.MESSAGING_CLAIM_SIZE = 5
    KilledMidSendBackend.accept = 23
    contacts = [make_contact() for _ in range(60)]
    ids = messages_queue(template=email_template, outgoing=[outgoing(c) for c in contacts])
    with pytest.raises(Killed):
        messages_deliver(message_ids=ids)
    first = [m.to[0] for m in mail.outbox]
    statuses = Counter(Message.objects.values_list("status", flat=True))
    # Each connection that met the "death" was handing one message over: it stays `sending`, with
    # its attempt started; every accepted one is `sent` already; nothing else was started.
    assert statuses[Message.Status.SENT] == 23 == len(first)
    hanging = list(Message.objects.filter(status=Message.Status.SENDING))
    assert 1 <= len(hanging) <= 4 and all(m.attempt_started_at for m in hanging)
    assert statuses[Message.Status.QUEUED] == 60 - 23 - len(hanging)

    # The lease runs out: the sweep calls the hanging ones in doubt; a new delivery sends the rest.
    messages_recover_expired(at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    KilledMidSendBackend.accept = 1000
    report = messages_deliver(message_ids=ids)
    assert len(report.sent) == 60 - 23 - len(hanging)
    received = Counter(m.to[0] for m in mail.outbox)
    assert max(received.values()) == 1  # nothing twice
    by_status = dict(Message.objects.values_list("contact__email", "status"))
    assert {email for email, status in by_status.items() if status == Message.Status.SENT} == set(received)
    in_doubt = [email for email, status in by_status.items() if status == Message.Status.IN_DOUBT]
    assert len(in_doubt) == len(hanging) and not set(in_doubt) & set(received)  # nothing lost unseen


def test_a_failing_connection_keeps_the_others_outcomes(settings, make_contact, email_template, monkeypatch):
    """One connection (thread) stops on an error its delivery does not handle: the error is raised after
    the other connections finished, with every connection's outcomes in DeliveryFailed.report (so the
    task still schedules their retries and requeues); the failed share's unclaimed messages stay queued."""
    from messaging.services import DeliveryFailed
    from messaging.services import delivery as delivery_module

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MESSAGING_DELIVERY_CONNECTIONS = 4
    settings.MESSAGING_CLAIM_SIZE = 5
    ids = messages_queue(template=email_template, outgoing=[outgoing(make_contact()) for _ in range(40)])
    poisoned = ids[:5]  # the first claim of the first connection
    original = delivery_module._deliver_chunk

    def chunk(chunk_ids, lease, senders):
        if chunk_ids == poisoned:
            raise RuntimeError("database went away")
        return original(chunk_ids, lease, senders)

    monkeypatch.setattr(delivery_module, "_deliver_chunk", chunk)
    with pytest.raises(DeliveryFailed) as failed:
        messages_deliver(message_ids=ids)
    assert isinstance(failed.value.__cause__, RuntimeError)
    sent = set(Message.objects.filter(status=Message.Status.SENT).values_list("id", flat=True))
    assert sent and set(failed.value.report.sent) == sent  # the other connections' work is reported
    assert len(mail.outbox) == len(sent) == len({m.to[0] for m in mail.outbox})
    assert set(Message.objects.filter(id__in=poisoned).values_list("status", flat=True)) == {"queued"}


def test_the_deliver_task_schedules_follow_ups_before_raising(monkeypatch):
    from messaging import services, tasks
    from messaging.services import DeliveryFailed, DeliveryReport

    scheduled = []
    report = DeliveryReport(requeued=[1, 2], retry_due={30.0: [3]})

    def deliver(*, message_ids):
        raise DeliveryFailed(report)

    monkeypatch.setattr(services, "messages_deliver", deliver)
    monkeypatch.setattr(
        tasks.deliver, "apply_async", lambda args, countdown: scheduled.append((args, countdown))
    )
    with pytest.raises(DeliveryFailed):
        tasks.deliver.run([1, 2, 3])
    assert scheduled == [([[1, 2]], tasks.REQUEUE_COUNTDOWN_SECONDS), ([[3]], 30.0)]
