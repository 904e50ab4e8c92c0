"""Message templates: validation and saving."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.timezone import now

from messaging import sandbox, tokens
from messaging.models import Channel, MessageTemplate
from messaging.services.suppression import from_email_problem

REQUIRED_FIELDS = {
    Channel.EMAIL: ("subject", "html_body"),
    Channel.SMS: ("sms_text",),
    Channel.PUSH: ("push_title", "push_body"),
}
CHANNEL_FIELDS = {
    Channel.EMAIL: ("subject", "html_body", "text_body"),
    Channel.SMS: ("sms_text",),
    Channel.PUSH: ("push_title", "push_body", "push_url"),
}


def message_template_problems(*, template: MessageTemplate) -> dict[str, list[str]]:
    """Missing parts, syntax errors and unknown variables, per field, for the channel's fields."""
    problems: dict[str, list[str]] = {}
    for name in REQUIRED_FIELDS[template.channel]:
        if not getattr(template, name).strip():
            problems.setdefault(name, []).append(f"Required for {template.get_channel_display()} templates.")
    for name in CHANNEL_FIELDS[template.channel]:
        found = sandbox.template_problems(getattr(template, name))
        if found:
            problems.setdefault(name, []).extend(found)
    if template.channel == Channel.EMAIL and from_email_problem(template.from_email):
        problems.setdefault("from_email", []).append(from_email_problem(template.from_email))
    if not problems:  # the parts share one budget at send (subject and push URL unescaped)
        names = CHANNEL_FIELDS[template.channel]
        escaped = ("html_body",)
        too_big = sandbox.message_budget_problem([(getattr(template, n), n in escaped) for n in names])
        if too_big:
            problems[names[min(1, len(names) - 1)]] = [too_big]
    push_url = template.push_url.strip()  # checked here when static, when rendered otherwise
    static = template.channel == Channel.PUSH and push_url and "{" not in push_url
    if static and tokens.redirect_target(push_url) is None:
        problems.setdefault("push_url", []).append("Must be an absolute http(s) link (https://...).")
    return problems


def message_template_save(*, template: MessageTemplate) -> MessageTemplate:
    """Validate (raises ValidationError per field) and save."""
    problems = message_template_problems(template=template)
    if problems:
        raise ValidationError(problems)
    template.updated_at = now()
    template.save()
    return template
