"""Turn a template + a plain context into what is sent: subject, HTML/text parts, SMS, push payload.

Email HTML gets click tracking (every http(s) link becomes a signed redirect) and an open pixel.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.html import strip_tags

from messaging import sandbox, tokens
from messaging.models import Channel, MessageTemplate

HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


@dataclass
class Rendered:
    subject: str = ""
    html: str = ""
    text: str = ""
    sms: str = ""
    push: dict = field(default_factory=dict)


def _untracked(url: str) -> bool:
    """Our own unsubscribe/preferences links stay as they are (one-click must not pass a redirect)."""
    return url.startswith(f"{settings.SITE_URL}/m/")


def track_links(body: str, *, message_id: int) -> str:
    def replace(match: re.Match) -> str:
        url = html.unescape(match.group(3))
        if _untracked(url):
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{html.escape(tokens.click_url(message_id, url))}{quote}"

    return HREF.sub(replace, body)


def add_open_pixel(body: str, *, message_id: int) -> str:
    pixel = (
        f'<img src="{html.escape(tokens.open_url(message_id))}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px">'
    )
    index = body.lower().rfind("</body>")
    if index == -1:
        return body + pixel
    return body[:index] + pixel + body[index:]


def html_to_text(body: str) -> str:
    body = re.sub(r"<a\b[^>]*href=[\"']([^\"']+)[\"'][^>]*>(.*?)</a>", r"\2 (\1)", body, flags=re.I | re.S)
    body = re.sub(r"<(br|/p|/div|/h\d|/li|/tr)\b[^>]*>", "\n", body, flags=re.I)
    text = html.unescape(strip_tags(body))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def template_render(
    *, template: MessageTemplate, context: dict, message_id: int | None, track: bool
) -> Rendered:
    """Render every part of `template` for one context. Raises on template errors (caller decides),
    and sandbox.RenderLimitExceeded when the parts together pass MESSAGING_RENDER_MAX_BYTES characters
    or MESSAGING_RENDER_MAX_SECONDS (the renderer stops as soon as they do)."""
    budget = sandbox.Budget()
    context = sandbox.freeze(context)  # once for every part (render() copies only its top level)

    def part(source: str, *, autoescape: bool = True) -> str:
        return sandbox.render(source, context, autoescape=autoescape, budget=budget)

    rendered = Rendered()
    if template.channel == Channel.EMAIL:
        rendered.subject = " ".join(part(template.subject, autoescape=False).split())
        body = part(template.html_body)
        if template.text_body:
            rendered.text = part(template.text_body, autoescape=False)
        else:
            rendered.text = html_to_text(body)
        if track and message_id:
            body = add_open_pixel(track_links(body, message_id=message_id), message_id=message_id)
        rendered.html = body
    elif template.channel == Channel.SMS:
        rendered.sms = part(template.sms_text, autoescape=False).strip()
    else:
        url = part(template.push_url, autoescape=False).strip()
        if url and tokens.redirect_target(url) is None:
            raise ValueError(f"the push URL must be an absolute http(s) link, not {url[:100]!r}")
        if track and message_id and url:
            url = tokens.click_url(message_id, url)
        rendered.push = {
            "title": part(template.push_title, autoescape=False).strip(),
            "body": part(template.push_body, autoescape=False).strip(),
            "url": url,
        }
    return rendered
