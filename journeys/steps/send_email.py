"""Send email (template from messaging; rules in journeys/steps/messages.py)."""

from __future__ import annotations

from journeys.steps.messages import MessageStep


class SendEmail(MessageStep):
    kind = "send_email"
    label = "Send email"
    channel = "email"
