import datetime as dt

import pytest
from django.urls import reverse
from django.utils.timezone import now

from contacts.story import story_render_context
from messaging import tasks
from messaging.models import Message
from messaging.services import Outgoing, messages_deliver_later, messages_queue, messages_redeliver_stale
from winback.celery import app
from winback.schedule import CELERY_BEAT_SCHEDULE

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def queue(template, contacts):
    return messages_queue(
        template=template,
        outgoing=[Outgoing(contact_id=c.pk, idempotency_key=f"t{c.pk}", context={}) for c in contacts],
    )


def test_deliver_task_sends(smtp_sink, make_contact, email_template):
    ids = queue(email_template, [make_contact()])
    assert tasks.deliver(ids).startswith("1 sent")
    assert len(smtp_sink.received) == 1


def test_deliver_later_runs_after_commit(
    eager, smtp_sink, make_contact, email_template, django_capture_on_commit_callbacks
):
    ids = queue(email_template, [make_contact(), make_contact()])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        messages_deliver_later(message_ids=ids)
        assert smtp_sink.received == []  # nothing before commit
    assert len(callbacks) == 1
    assert len(smtp_sink.received) == 2


def test_stale_queued_messages_are_redelivered(
    eager, smtp_sink, make_contact, email_template, django_capture_on_commit_callbacks
):
    old, fresh = make_contact(), make_contact()
    queue(email_template, [old, fresh])
    Message.objects.filter(contact=old).update(created_at=now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_redeliver_stale() == 1
    assert [m["To"] for m in smtp_sink.received] == [old.email]


def test_sweepers_are_in_the_beat_schedule():
    tasks_scheduled = {entry["task"] for entry in CELERY_BEAT_SCHEDULE.values()}
    assert {"messaging.recover_interrupted", "messaging.redeliver_stale"} <= tasks_scheduled
    assert tasks.recover_interrupted() == 0


def test_contact_story_lists_last_messages(admin_client, smtp_sink, make_contact, email_template):
    from messaging.selectors import contact_story_context

    contact = make_contact()
    tasks.deliver(queue(email_template, [contact]))
    context = contact_story_context(contact)
    assert [m.template.name for m in context["story_messages"]] == [email_template.name]
    (section,) = [s for s in story_render_context(contact=contact) if s["title"] == "Messages"]
    assert "Winback email" in section["html"] and f"?contact_id={contact.pk}" in section["html"]
    # And on the real contact page:
    page = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert b'id="story-messages"' in page.content


def test_demo_templates_are_valid_render_and_seed_once(smtp_sink, make_contact):
    from messaging.demo import message_templates_demo_seed

    templates = message_templates_demo_seed()
    assert len(message_templates_demo_seed()) == len(templates) == 4
    contact = make_contact(
        attributes={"referral_successful_count": 2, "referral_share_link": "https://s.example/r"}
    )
    for template in templates:
        if template.channel != "email":
            continue
        ids = messages_queue(
            template=template,
            outgoing=[
                Outgoing(
                    contact_id=contact.pk,
                    idempotency_key=f"demo{template.pk}",
                    context={"coupon": {"code": "BACK10", "expires_at": dt.date(2030, 5, 1)}},
                )
            ],
        )
        assert tasks.deliver(ids).startswith("1 sent")
    bodies = [m.get_body(("html",)).get_content() for m in smtp_sink.received]
    assert "BACK10" in bodies[0] and "1 May 2030" in bodies[0]
    assert "2 friends" in " ".join(bodies[1].split())
