"""Demo message templates for `make run` (idempotent: by name). Call from the demo seeding."""

from __future__ import annotations

from messaging.email_layout import email_html, email_text
from messaging.models import Channel, MessageTemplate
from messaging.services import message_template_save

WINBACK_BODY = (
    '<h1>We miss you, {{ contact.first_name|default:"friend" }}!</h1>'
    "<p>It has been a while since your last order. Here is a personal code for your next one, and a few "
    "things we picked for you.</p>"
)

REFERRAL_BODY = (
    '<h1>{{ contact.first_name|default:"Hello" }}, thank you for spreading the word</h1>'
    "{% with n=contact.attributes.referral_successful_count %}"
    "{% if n %}<p>Thanks: {{ n }} friend{{ n|pluralize }} joined through you!</p>{% endif %}{% endwith %}"
    "<p>Share your link and both of you save on the next order.</p>"
)


REFERRAL_BUTTON = ("Share your link", "{{ contact.attributes.referral_share_link|default:site_url }}")


def _winback_html() -> str:
    return email_html(body=WINBACK_BODY, preheader="A personal code inside", coupon=True, products=True)


def _winback_text() -> str:
    return email_text(body=WINBACK_BODY, coupon=True, products=True)


def _referral_text() -> str:
    return email_text(body=REFERRAL_BODY, button=REFERRAL_BUTTON)


def _referral_html() -> str:
    return email_html(
        body=REFERRAL_BODY,
        preheader="Your referral link",
        button=REFERRAL_BUTTON,
    )


DEMO_TEMPLATES = [
    {
        "name": "Win-back: we miss you (email)",
        "channel": Channel.EMAIL,
        "subject": "{{ contact.first_name|default:'Hello' }}, we miss you"
        "{% if coupon.code %}: a gift inside{% endif %}",
        "html_body": _winback_html,
        "text_body": _winback_text,
    },
    {
        "name": "Referral reminder (email)",
        "channel": Channel.EMAIL,
        "subject": "Invite a friend, {{ contact.first_name }}",
        "html_body": _referral_html,
        "text_body": _referral_text,
    },
    {
        "name": "Win-back (SMS)",
        "channel": Channel.SMS,
        "sms_text": "Hi {{ contact.first_name }}, we miss you! Code {{ coupon.code }} "
        "{% if coupon.expires_at %}until {{ coupon.expires_at|date:'j M' }}{% endif %}. {{ site_url }}",
    },
    {
        "name": "Win-back (push)",
        "channel": Channel.PUSH,
        "push_title": "{{ contact.first_name|default:'Hi' }}, something new for you",
        "push_body": "{% if recommendations %}{{ recommendations.0.name }} and more"
        "{% else %}New arrivals{% endif %}",
        "push_url": "{{ site_url }}",
    },
]


def message_templates_demo_seed() -> list[MessageTemplate]:
    """Create the demo templates that do not exist yet; return all of them."""
    templates = []
    for values in DEMO_TEMPLATES:
        template = MessageTemplate.objects.filter(name=values["name"]).first()
        if template is None:
            values = {k: v() if callable(v) else v for k, v in values.items()}  # HTML built on demand
            template = message_template_save(template=MessageTemplate(**values))
        templates.append(template)
    return templates
