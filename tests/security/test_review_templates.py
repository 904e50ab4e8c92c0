"""Review of the render budget: width arguments a filter reads differently from the check."""

from __future__ import annotations

import pytest

from messaging import sandbox


@pytest.mark.parametrize(
    "source",
    [
        # A float literal: the filter does int(1e12) and builds the string before any length check.
        "{{ contact.first_name|ljust:1e12 }}",
        "{{ contact.first_name|rjust:12345678.0 }}",
        "{{ contact.first_name|center:1e12 }}",
        # floatformat strips its g/u suffixes before int(): a precision of a billion digits.
        '{{ 1.5|floatformat:"1000000000g" }}',
        '{{ 1.5|floatformat:"1000000000u" }}',
        '{{ 1.5|floatformat:"-1000000000gu" }}',
        # A number from contact data (JSON attributes hold floats).
        "{{ contact.first_name|ljust:contact.attributes.n }}",
    ],
)
def test_width_arguments_are_refused_before_the_filter_runs(source):
    context = {"contact": {"first_name": "Ada", "attributes": {"n": 1e12}}}
    with pytest.raises(sandbox.RenderLimitExceeded, match="wider than"):
        sandbox.render(source, context)


def test_ordinary_widths_still_work():
    assert sandbox.render('{{ 1.25|floatformat:"2g" }}|{{ "a"|ljust:3.0 }}|', {}) == "1.25|a  |"


@pytest.mark.django_db
def test_save_checks_the_parts_of_a_message_together(settings):
    """At send the parts share one budget; a template whose parts each pass alone but not together
    would save, then fail every message it is sent in."""
    from django.core.exceptions import ValidationError

    from messaging.models import Channel, MessageTemplate
    from messaging.services import message_template_save

    settings.MESSAGING_RENDER_MAX_BYTES = 2048
    part = "{{ contact.first_name|ljust:900 }}"
    template = MessageTemplate(
        name="t", channel=Channel.EMAIL, subject="s", html_body=part, text_body=part + part
    )
    with pytest.raises(ValidationError, match="Too big for one message"):
        message_template_save(template=template)
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["sms", "push"])
def test_the_combined_check_on_single_part_channels(settings, channel):
    from django.core.exceptions import ValidationError

    from messaging.models import MessageTemplate
    from messaging.services import message_template_save

    settings.MESSAGING_RENDER_MAX_BYTES = 2048
    big = "{{ contact.first_name|ljust:900 }}" * 3
    fields = {"sms_text": big} if channel == "sms" else {"push_title": "t", "push_body": big}
    with pytest.raises(ValidationError, match="Too big"):
        message_template_save(template=MessageTemplate(name="t", channel=channel, **fields))
