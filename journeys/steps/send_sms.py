"""Send SMS (template from messaging; rules in journeys/steps/messages.py)."""

from __future__ import annotations

from journeys.steps.messages import MessageStep


class SendSms(MessageStep):
    kind = "send_sms"
    label = "Send SMS"
    channel = "sms"
