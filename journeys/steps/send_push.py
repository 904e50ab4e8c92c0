"""Send web push (template from messaging; rules in journeys/steps/messages.py)."""

from __future__ import annotations

from journeys.steps.messages import MessageStep


class SendPush(MessageStep):
    kind = "send_push"
    label = "Send web push"
    channel = "push"
