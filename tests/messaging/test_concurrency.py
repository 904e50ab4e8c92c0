import threading

import pytest
from django.db import connection

from messaging.models import Message
from messaging.services import Outgoing, messages_deliver, messages_queue


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_send_each_message_once(smtp_sink, make_contact, email_template):
    contacts = [make_contact() for _ in range(20)]
    ids = messages_queue(
        template=email_template,
        outgoing=[Outgoing(contact_id=c.pk, idempotency_key=f"k{c.pk}", context={}) for c in contacts],
    )
    barrier = threading.Barrier(2)
    reports = []
    errors = []

    def worker():
        try:
            barrier.wait()
            reports.append(messages_deliver(message_ids=ids))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    sent = [i for report in reports for i in report.sent]
    assert sorted(sent) == sorted(ids)  # every message sent, none twice
    assert len(smtp_sink.received) == 20
    assert len({m["To"] for m in smtp_sink.received}) == 20
    assert Message.objects.filter(status=Message.Status.SENT).count() == 20
