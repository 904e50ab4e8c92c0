"""Demo message templates for `make run` (idempotent: by name). Call from the demo seeding."""

from __future__ import annotations

from messaging.models import Channel, MessageTemplate
from messaging.services import message_template_save

WINBACK_HTML = """<html><body style="font-family: sans-serif; max-width: 36rem; margin: auto">
<h1>We miss you, {{ contact.first_name|default:"friend" }}!</h1>
{% if coupon.code %}
<p>Here is <strong>{{ coupon.code }}</strong> for your next order
{% if coupon.expires_at %}(valid until {{ coupon.expires_at|date:"j F Y" }}){% endif %}.</p>
{% endif %}
{% if recommendations %}
<h2>Picked for you</h2>
<table>{% for p in recommendations %}
  <tr><td>{% if p.image_url %}<img src="{{ p.image_url }}" width="80" alt="">{% endif %}</td>
      <td><a href="{{ p.url|default:site_url }}">{{ p.name }}</a>
          {% if p.price %} · {{ p.price }}{% endif %}</td></tr>
{% endfor %}</table>
{% endif %}
<p><a href="{{ site_url }}">Visit the shop</a></p>
<p style="font-size: small; color: #666">
  <a href="{{ preferences_url }}">Email preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""

REFERRAL_HTML = """<html><body style="font-family: sans-serif">
<p>Hi {{ contact.first_name }},</p>
{% if contact.attributes.referral_successful_count %}
{% with n=contact.attributes.referral_successful_count %}
<p>Thanks: {{ n }} friend{{ n|pluralize }} joined through you!</p>
{% endwith %}
{% endif %}
{% with link=contact.attributes.referral_share_link|default:site_url %}
<p>Share your link and both of you save: <a href="{{ link }}">{{ link }}</a></p>
{% endwith %}
<p style="font-size: small"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""

DEMO_TEMPLATES = [
    {
        "name": "Win-back: we miss you (email)",
        "channel": Channel.EMAIL,
        "subject": "{{ contact.first_name|default:'Hello' }}, we miss you"
        "{% if coupon.code %}: a gift inside{% endif %}",
        "html_body": WINBACK_HTML,
    },
    {
        "name": "Referral reminder (email)",
        "channel": Channel.EMAIL,
        "subject": "Invite a friend, {{ contact.first_name }}",
        "html_body": REFERRAL_HTML,
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
            template = message_template_save(template=MessageTemplate(**values))
        templates.append(template)
    return templates
