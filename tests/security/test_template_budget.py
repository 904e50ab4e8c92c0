"""Bounded templates (issue 12, item 2): a small template must not render to hundreds of MB.

The renderer counts what it writes as it writes it, for the whole message, and stops past
MESSAGING_RENDER_MAX_BYTES; so the preview, the save check and the send all stop the same way.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from messaging import sandbox
from messaging.models import Channel, Message, MessageTemplate
from messaging.rendering import template_render
from messaging.services import Outgoing, message_template_save, messages_deliver, messages_queue

pytestmark = pytest.mark.django_db


def amplifier(separator: int) -> str:
    """A value of 1000 x (separator + 1) characters written 400 times."""
    return (
        '{% with b=contact.email|ljust:1000|make_list|join:"'
        + "y" * separator
        + '" %}'
        + "{{ b }}" * 400
        + "{% endwith %}"
    )


# The report's 3 KB template: a ~200 KB value written 400 times (159 MB in the preview).
AMPLIFIER = amplifier(198)


def test_the_amplification_template_stops_at_the_value_limit():
    with pytest.raises(sandbox.RenderLimitExceeded, match="longer than"):
        sandbox.render(AMPLIFIER, {"contact": {"email": "alex@example.com"}})


def test_a_smaller_value_written_many_times_stops_at_the_message_budget(settings):
    """50 KB per value passes the value limit; the 6th of 400 copies passes the 256 KB message budget."""
    settings.MESSAGING_RENDER_MAX_BYTES = 256 * 1024
    with pytest.raises(sandbox.RenderLimitExceeded, match="longer than 256 KB"):
        sandbox.render(amplifier(50), {"contact": {"email": "alex@example.com"}})


def test_the_budget_is_shared_by_every_part_of_a_message(settings):
    settings.MESSAGING_RENDER_MAX_BYTES = 2048
    part = "{{ contact.first_name|ljust:900 }}"
    template = MessageTemplate(channel=Channel.EMAIL, subject="s", html_body=part, text_body=part + part)
    with pytest.raises(sandbox.RenderLimitExceeded):
        template_render(
            template=template, context={"contact": {"first_name": "A"}}, message_id=None, track=False
        )


def test_output_is_counted_once_however_deeply_it_is_nested(settings):
    settings.MESSAGING_RENDER_MAX_BYTES = 2048
    source = (
        "{% if 1 %}{% with a=1 %}{% if a %}{% spaceless %}"
        + "x" * 1500
        + "{% endspaceless %}{% endif %}{% endwith %}{% endif %}"
    )
    assert len(sandbox.render(source, {})) == 1500


def test_filter_tag_output_counts(settings):
    settings.MESSAGING_RENDER_MAX_BYTES = 4096
    source = "{% filter ljust:1000 %}x{% endfilter %}" * 5
    with pytest.raises(sandbox.RenderLimitExceeded):
        sandbox.render(source, {})


def test_the_render_time_limit_stops_a_slow_render(settings):
    """A zero-second budget: the first written node is already past the deadline (no timing race)."""
    budget = sandbox.Budget(max_seconds=1)
    budget.deadline = 0
    with pytest.raises(sandbox.RenderLimitExceeded, match="longer than 1 s"):
        sandbox.render("{{ contact.first_name }}", {"contact": {"first_name": "A"}}, budget=budget)


def test_preview_shows_the_limit_instead_of_rendering(admin_client):
    template = MessageTemplate.objects.create(name="ok", channel=Channel.EMAIL, subject="Hi", html_body="x")
    MessageTemplate.objects.filter(pk=template.pk).update(html_body=amplifier(50))  # saved before the check
    response = admin_client.get(f"/admin/messaging/messagetemplate/{template.pk}/preview/")
    assert response.status_code == 200
    assert "RenderLimitExceeded" in response.content.decode()
    assert len(response.content) < 200_000


def test_draft_preview_refuses_the_amplification_template(admin_client):
    response = admin_client.post(
        "/admin/messaging/messagetemplate/preview-draft/",
        {"name": "x", "channel": "email", "subject": "Hi", "html_body": AMPLIFIER},
    )
    assert response.status_code == 200
    assert "Too big for one message" in response.content.decode()
    assert len(response.content) < 200_000


@pytest.mark.parametrize("source", [AMPLIFIER, amplifier(50)])
def test_save_rejects_a_template_whose_worst_case_is_too_big(source):
    """The 14 KB variant of the report: fine on a short email, too big for the longest one."""
    template = MessageTemplate(name="big", channel=Channel.EMAIL, subject="Hi", html_body=source)
    with pytest.raises(ValidationError) as info:
        message_template_save(template=template)
    assert "Too big for one message" in info.value.message_dict["html_body"][0]
    assert not MessageTemplate.objects.exists()


def test_admin_form_rejects_it_too(admin_client):
    response = admin_client.post(
        "/admin/messaging/messagetemplate/add/",
        {"name": "big", "channel": "email", "subject": "Hi", "html_body": AMPLIFIER},
    )
    assert response.status_code == 200
    assert "Too big for one message" in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_ordinary_templates_still_save():
    body = (
        "<p>Hi {{ contact.first_name }}</p>"
        "{% for p in recommendations %}<a href='{{ p.url }}'>{{ p.name }}</a>{% endfor %}"
    )
    assert message_template_save(
        template=MessageTemplate(name="fine", channel=Channel.EMAIL, subject="Hi", html_body=body)
    ).pk


def test_send_fails_that_message_with_a_clear_reason(smtp_sink, make_contact):
    template = MessageTemplate.objects.create(name="ok", channel=Channel.EMAIL, subject="Hi", html_body="x")
    MessageTemplate.objects.filter(pk=template.pk).update(html_body=amplifier(50))
    template.refresh_from_db()
    contact = make_contact()
    ids = messages_queue(
        template=template, outgoing=[Outgoing(contact_id=contact.pk, idempotency_key="a", context={})]
    )
    report = messages_deliver(message_ids=ids)
    assert report.failed == ids and smtp_sink.received == []
    reason = Message.objects.get(pk=ids[0]).reason
    assert reason.startswith("render error: RenderLimitExceeded: the message would be longer than 256 KB")
