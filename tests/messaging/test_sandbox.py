import pytest
from django.core.exceptions import ValidationError
from django.template import TemplateSyntaxError

from messaging import sandbox
from messaging.models import Channel, MessageTemplate
from messaging.selectors import sample_context
from messaging.services import message_template_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def context():
    return sample_context()


@pytest.mark.parametrize(
    "source",
    [
        "{{ settings.SECRET_KEY }}",
        "{{ contact.__class__ }}x",
        "{{ contact.attributes.__class__.__mro__ }}",
        "{{ request.user }}",
        "{{ contact.save }}",
    ],
)
def test_sandbox_cannot_reach_beyond_the_context(source, context, settings):
    try:
        output = sandbox.render(source, context)
    except TemplateSyntaxError:
        return  # rejected outright is fine too
    assert settings.SECRET_KEY not in output
    assert "class" not in output and "object" not in output
    assert output in ("", "x")


@pytest.mark.parametrize(
    "source",
    [
        "{% load humanize %}",
        "{% load static %}",
        '{% include "admin/base.html" %}',
        '{% extends "admin/base.html" %}',
        "{% debug %}",
        "{% url 'admin:index' %}",
        "{% csrf_token %}",
        "{{ contact.first_name|safe }}",
    ],
)
def test_dangerous_tags_and_filters_are_rejected(source):
    with pytest.raises(TemplateSyntaxError):
        sandbox.compile_template(source)


def test_context_values_are_escaped_in_html(context):
    context["contact"]["first_name"] = "<script>x</script>"
    assert sandbox.render("{{ contact.first_name }}", context) == "&lt;script&gt;x&lt;/script&gt;"


def test_personalisation_attributes_and_coupon(context):
    out = sandbox.render(
        "{{ contact.first_name }} {{ contact.attributes.referral_successful_count }} "
        '{{ contact.attributes.referral_share_link }} {{ coupon.code }} {{ coupon.expires_at|date:"Y" }}',
        context,
    )
    assert out.startswith("Alex 2 https://example.com/r/alex WELCOME-BACK-1234 20")


def test_validation_reports_unknown_variables():
    problems = sandbox.template_problems(
        "{{ contcat.first_name }} {{ contact.frist_name }} "
        "{% for p in recommendations %}{{ p.name }}{% endfor %}"
        "{% if coupon.code and settings.DEBUG %}{% endif %}{{ contact.first_name|default:secret }}"
    )
    assert any("'contcat.first_name'" in p for p in problems)
    assert any("'contact.frist_name'" in p and "contact.first_name" in p for p in problems)
    assert any("'settings.DEBUG'" in p for p in problems)
    assert any("'secret'" in p for p in problems)
    assert not any("p.name" in p for p in problems)
    assert len(problems) == 4


def test_validation_reports_syntax_errors_with_line():
    (problem,) = sandbox.template_problems("Hello\n{% for x in recommendations %}\n{% endfo %}")
    assert problem.startswith("Template syntax error:")
    assert "line 3" in problem


def test_template_save_raises_per_field_errors():
    template = MessageTemplate(name="t", channel=Channel.EMAIL, subject="Hi {{ contact.nme }}", html_body="")
    with pytest.raises(ValidationError) as info:
        message_template_save(template=template)
    errors = info.value.message_dict
    assert "Unknown variable 'contact.nme'" in errors["subject"][0]
    assert errors["html_body"] == ["Required for Email templates."]
    assert not MessageTemplate.objects.exists()


def test_template_save_accepts_a_valid_template():
    template = MessageTemplate(
        name="ok",
        channel=Channel.SMS,
        sms_text="{% with n=contact.first_name %}Hi {{ n }}{% endwith %} {{ unsubscribe_url }}",
    )
    assert message_template_save(template=template).pk


def test_rendered_output_is_not_marked_safe(context):
    from django.utils.safestring import SafeData

    assert not isinstance(sandbox.render("<b>{{ contact.first_name }}</b>", context), SafeData)


# --- Review: breaking out of the sandbox ------------------------------------------------------


def test_autoescape_off_is_not_available(context):
    """Turning escaping off would let contact data inject HTML (same as the blocked |safe)."""
    with pytest.raises(TemplateSyntaxError):
        sandbox.compile_template("{% autoescape off %}{{ contact.first_name }}{% endautoescape %}")
    context["contact"]["first_name"] = "<a href='https://evil.example'>x</a>"
    assert "<a" not in sandbox.render("{% filter lower %}{{ contact.first_name }}{% endfilter %}", context)


def test_text_templates_are_not_html_escaped(context):
    context["contact"]["first_name"] = "Tom & <Jerry>"
    assert sandbox.render("Hi {{ contact.first_name }}", context, autoescape=False) == "Hi Tom & <Jerry>"


@pytest.mark.parametrize(
    "source",
    [
        # Nested loops over a provided list: 200**4 = 1.6 billion iterations.
        "{% for a in contact.attributes.items_ %}{% for b in contact.attributes.items_ %}"
        "{% for c in contact.attributes.items_ %}{% for d in contact.attributes.items_ %}x"
        "{% endfor %}{% endfor %}{% endfor %}{% endfor %}",
        # Strings are iterable too.
        "{% for a in contact.email %}{% for b in contact.email %}{% for c in contact.email %}"
        "{% for d in contact.email %}{% for e in contact.email %}x{% endfor %}{% endfor %}{% endfor %}"
        "{% endfor %}{% endfor %}",
        # Width filters allocate whatever they are told to.
        "{{ contact.first_name|ljust:'1000000000' }}",
        "{{ contact.first_name|center:'1000000000' }}",
        "{{ contact.first_name|stringformat:'1000000000s' }}",
        "{{ 1|floatformat:'1000000000' }}",
        # join squares the length at each step, add doubles it.
        "{% with a=contact.email|make_list|join:contact.email %}{% with b=a|make_list|join:a %}"
        "{% with c=b|make_list|join:b %}{{ c|length }}{% endwith %}{% endwith %}{% endwith %}",
        "{% with a=contact.email|add:contact.email %}{% with a=a|add:a %}{% with a=a|add:a %}"
        "{% with a=a|add:a %}{% with a=a|add:a %}{% with a=a|add:a %}{% with a=a|add:a %}"
        "{% with a=a|add:a %}{% with a=a|add:a %}{% with a=a|add:a %}{% with a=a|add:a %}"
        "{% with a=a|add:a %}{% with a=a|add:a %}{% with a=a|add:a %}{% with a=a|add:a %}"
        "{% with a=a|add:a %}{% with a=a|add:a %}{% with a=a|add:a %}{% with a=a|add:a %}"
        "{{ a|length }}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}"
        "{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}"
        "{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}{% endwith %}",
    ],
)
def test_templates_that_would_exhaust_the_worker_stop_with_an_error(source, context):
    import time

    context["contact"]["attributes"]["items_"] = list(range(200))
    context["contact"]["email"] = "a" * 40
    started = time.monotonic()
    with pytest.raises(sandbox.RenderLimitExceeded):
        sandbox.render(source, context)
    assert time.monotonic() - started < 2


def test_ordinary_loops_and_filters_stay_within_the_limits(context):
    context["contact"]["attributes"]["items_"] = list(range(200))
    out = sandbox.render(
        "{% for p in recommendations %}{% for q in contact.attributes.items_ %}.{% endfor %}{% endfor %}"
        "{{ contact.first_name|ljust:'20' }}|{{ 3.14159|floatformat:2 }}|{{ recommendations|length }}",
        context,
    )
    assert out.endswith("Alex                |3.14|" + str(len(context["recommendations"])))


def test_validation_still_sees_variables_in_loops():
    problems = sandbox.template_problems("{% for p in recomendations %}{{ p.name }}{% endfor %}")
    assert len(problems) == 1 and "'recomendations'" in problems[0]


def test_render_limit_fails_only_that_message(smtp_sink, make_contact):
    from messaging.models import Message
    from messaging.services import Outgoing, messages_deliver, messages_queue

    template = MessageTemplate.objects.create(
        name="greedy",
        channel=Channel.EMAIL,
        subject="Hi",
        html_body="{% for a in contact.attributes.n %}{% for b in contact.attributes.n %}"
        "{% for c in contact.attributes.n %}x{% endfor %}{% endfor %}{% endfor %}",
    )
    small, big = make_contact(attributes={"n": [1, 2]}), make_contact(attributes={"n": list(range(300))})
    ids = messages_queue(
        template=template,
        outgoing=[Outgoing(contact_id=c.pk, idempotency_key=f"g{c.pk}", context={}) for c in (small, big)],
    )
    report = messages_deliver(message_ids=ids)
    assert len(report.sent) == 1 and len(report.failed) == 1
    assert Message.objects.get(contact=big).reason.startswith("render error: RenderLimitExceeded")


def test_push_url_must_be_an_http_link():
    template = MessageTemplate(
        name="p", channel=Channel.PUSH, push_title="t", push_body="b", push_url="javascript:alert(1)"
    )
    with pytest.raises(ValidationError) as info:
        message_template_save(template=template)
    assert "http(s)" in info.value.message_dict["push_url"][0]
    template.push_url = "https://shop.example.com/{{ contact.attributes.slug }}"
    assert message_template_save(template=template).pk


def test_templates_cannot_change_the_values_they_are_given(context):
    """Contexts share product dicts across the messages of a batch: a template must not alter them."""
    context["recommendations"] = [{"name": "Mug", "tags": ["a", "b"]}, {"name": "Cup", "tags": []}]
    context["contact"]["attributes"] = {"vip": True, "sizes": [3, 1, 2]}
    before = repr(context)
    out = sandbox.render(
        "{{ recommendations.pop }}{{ recommendations.clear }}{{ recommendations.reverse }}"
        "{% for p in recommendations %}{{ p.popitem }}{{ p.clear }}{{ p.tags.pop }}{% endfor %}"
        "{{ contact.attributes.sizes.sort }}{{ contact.attributes.clear }}{{ coupon.popitem }}"
        "|{{ recommendations|length }}|{{ contact.attributes.sizes|join:',' }}",
        context,
    )
    assert repr(context) == before
    assert out.endswith("|2|3,1,2")
    # Reading still works as before.
    assert (
        sandbox.render(
            "{% for k, v in contact.attributes.items %}{{ k }}{% endfor %} {{ recommendations.0.name }} "
            "{{ recommendations|dictsort:'name'|first }}",
            context,
            autoescape=False,
        )
        == "vipsizes Mug {'name': 'Cup', 'tags': []}"
    )


def test_tags_that_set_names_still_work(context):
    context["recommendations"] = [{"name": "Mug", "brand": "A"}, {"name": "Cup", "brand": "A"}]
    out = sandbox.render(
        '{% now "Y" as year %}{% regroup recommendations by brand as brands %}'
        "{% for b in brands %}{{ b.grouper }}:{{ b.list|length }}{% endfor %} {{ year|length }}"
        "{% cycle 'x' 'y' as c silent %}{{ c }}",
        context,
    )
    assert out == "A:2 4x"


def test_deeply_nested_template_is_a_problem_not_a_crash():
    source = "{% if contact %}" * 300 + "{% endif %}" * 300
    (problem,) = sandbox.template_problems(source)
    assert "nested" in problem


def test_a_message_context_is_frozen_once_for_all_its_parts(context):
    """template_render() freezes the context once; each part still starts from it unchanged (a name
    set by a tag in one part is not seen by the next) and the caller's context is not altered."""
    from messaging.models import MessageTemplate
    from messaging.rendering import template_render

    frozen = sandbox.freeze({"a": [{"b": 1}], "c": {"d": [2]}})
    assert sandbox.freeze(frozen) is frozen
    assert sandbox.freeze(frozen["a"]) is frozen["a"]
    context["recommendations"] = [{"name": "Mug"}]
    before = repr(context)
    template = MessageTemplate(
        channel="email",
        subject="{% cycle 'x' 'y' as c silent %}S{{ c }}{{ recommendations.pop }}",
        html_body="<p>[{{ c }}]{{ recommendations|length }}{{ recommendations.0.name }}</p>",
        text_body="T{{ recommendations.clear }}{{ recommendations|length }}",
    )
    rendered = template_render(template=template, context=context, message_id=None, track=False)
    assert (rendered.subject, rendered.html, rendered.text) == ("Sx", "<p>[]1Mug</p>", "T1")
    assert repr(context) == before
