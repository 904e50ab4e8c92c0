"""Showing what the development mail sink caught (admin: Messaging > Received mail), safely.

- The raw message is parsed as bytes, so each part is decoded with its own charset (parsing the text
  as a str turned 8-bit UTF-8 bodies into "�").
- Looking at an email is not the contact opening it: the open pixel is removed and click-tracking links
  point straight at their target, so the viewer never loads a tracking URL (it recorded an open on
  every view, and a click when a link was followed).
"""

from __future__ import annotations

import email
import email.policy
import html
import re

from django.conf import settings
from django.urls import reverse

from messaging import tokens


def _tracking_prefix(name: str) -> str:
    path = reverse(f"messaging:{name}", args=["TOKEN"]).split("TOKEN")[0]
    return re.escape(f"{settings.SITE_URL}{path}")


def received_part(raw: str, kind: str) -> str:
    """The decoded "html" or "plain" part of a received mail ("" if it has none)."""
    parsed = email.message_from_bytes(
        raw.encode("utf-8", errors="surrogateescape"), policy=email.policy.default
    )
    body = parsed.get_body((kind,))
    return body.get_content() if body is not None else ""


def untracked_html(body: str) -> str:
    """The email without its open pixel and with click links pointing at their targets."""
    pixel = re.compile(
        r"<img\b[^>]*\bsrc\s*=\s*([\"'])" + _tracking_prefix("open") + r"[^\"']*\1[^>]*>", re.I
    )
    body = pixel.sub("", body)
    click = re.compile(r"([\"'])(" + _tracking_prefix("click") + r"([^/\"']+)/?)\1")

    def target(match: re.Match) -> str:
        try:
            _message_id, url = tokens.click_token_load(html.unescape(match.group(3)))
        except tokens.BadToken:
            url = "#"
        return f"{match.group(1)}{html.escape(url)}{match.group(1)}"

    return click.sub(target, body)
