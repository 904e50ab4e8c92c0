"""What every message step (email, SMS, web push, survey) shares.

Before queueing, in this order, without per-contact queries:
holdout (never messaged) -> suppression (status/consent on the channel; messaging enforces it again)
-> quiet hours in the contact's time zone (postponed to their end) -> frequency cap across journeys
(postponed until the oldest counted message leaves the window, or skipped: a journey setting).
Messages are queued through messaging.messages_queue with the idempotency key
"enrollment:<id>:step:<step id>", and delivered after the batch commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Min

from journeys.steps.base import (
    BatchContext,
    Names,
    StepKind,
    StepResult,
    contact_zone,
    model_exists,
    reference_describe,
)


def quiet_until(journey, contact, now: datetime) -> datetime | None:
    """End of the quiet hours `now` falls in (contact's time zone), or None."""
    start, end = journey.quiet_hours_start, journey.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    zone = contact_zone(contact)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_date = local.date()
    else:  # overnight, e.g. 21:00-08:00
        inside = clock >= start or clock < end
        end_date = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_date, end, tzinfo=zone)


def cap_usage(contact_ids: list[int], *, now: datetime, days: int) -> dict[int, tuple[int, datetime]]:
    """Messages sent by journeys per contact in the window: {contact_id: (count, oldest)}. One query."""
    from journeys.models import StepRun

    rows = (
        StepRun.objects.filter(
            contact_id__in=contact_ids, outcome="sent", ran_at__gt=now - timedelta(days=days)
        )
        .values("contact_id")
        .annotate(n=Count("id"), oldest=Min("ran_at"))
        .values_list("contact_id", "n", "oldest")
    )
    return {contact_id: (n, oldest) for contact_id, n, oldest in rows}


def message_data(data: dict | None) -> dict:
    """Enrollment data as message context. The assign-coupon step keeps the expiry as ISO text; it is
    marked as a datetime here, so `{{ coupon.expires_at|date }}` prints a date (it printed nothing)."""
    data = dict(data or {})
    coupon = data.get("coupon")
    if isinstance(coupon, dict) and isinstance(coupon.get("expires_at"), str):
        data["coupon"] = {**coupon, "expires_at": {"__datetime__": coupon["expires_at"]}}
    return data


class MessageStep(StepKind):
    channel = "email"
    is_message = True

    def validate(self, config: dict) -> dict:
        config = dict(config or {})
        template_id = model_exists("messaging", "MessageTemplate", config.get("template_id"), "template_id")
        from messaging.models import MessageTemplate

        channel = MessageTemplate.objects.filter(pk=template_id).values_list("channel", flat=True).first()
        if channel != self.channel:
            raise ValidationError({"template_id": f"Pick a {self.channel} template (this one is {channel})."})
        return {"template_id": template_id}

    def extra_context(self, *, step, enrollment) -> dict:
        return {}

    def screen(self, *, step, enrollments, ctx: BatchContext) -> tuple[list, dict[int, StepResult]]:
        """Split the batch into enrollments to message now and results for the others."""
        results: dict[int, StepResult] = {}
        ready = []
        for e in enrollments:
            if e.holdout:
                results[e.id] = StepResult("next", outcome="holdout", detail="holdout group: not messaged")
            elif not e.contact.can_receive(self.channel):
                reason = e.contact.status if e.contact.status != "active" else f"no {self.channel} consent"
                results[e.id] = StepResult("next", outcome="suppressed", detail=reason)
            else:
                until = quiet_until(e.journey, e.contact, ctx.now)
                if until is not None:
                    results[e.id] = StepResult(
                        None, due_at=until, detail=f"quiet hours until {until:%H:%M %Z}"
                    )
                else:
                    ready.append(e)
        capped = [e for e in ready if e.journey.frequency_cap_messages and e.journey.frequency_cap_days]
        if capped:
            days = max(e.journey.frequency_cap_days for e in capped)
            usage = cap_usage([e.contact_id for e in capped], now=ctx.now, days=days)
            keep = []
            for e in ready:
                journey = e.journey
                if not (journey.frequency_cap_messages and journey.frequency_cap_days):
                    keep.append(e)
                    continue
                count, oldest = usage.get(e.contact_id, (0, None))
                count += ctx.sent_in_batch.get(e.contact_id, 0)
                if count < journey.frequency_cap_messages:
                    keep.append(e)
                    continue
                cap = f"frequency cap {journey.frequency_cap_messages}/{journey.frequency_cap_days}d"
                if journey.frequency_cap_action == "skip":
                    results[e.id] = StepResult("next", outcome="capped", detail=f"{cap}: skipped")
                else:
                    retry = (oldest or ctx.now) + timedelta(days=journey.frequency_cap_days)
                    retry = max(retry, ctx.now + timedelta(minutes=1))
                    results[e.id] = StepResult(None, due_at=retry, detail=f"{cap}: postponed")
            ready = keep
        return ready, results

    def run(self, *, step, enrollments, ctx):
        from messaging.models import MessageTemplate
        from messaging.services import Outgoing, messages_queue

        ready, results = self.screen(step=step, enrollments=enrollments, ctx=ctx)
        if ready:
            template = MessageTemplate.objects.get(pk=step.config["template_id"])
            outgoing = [
                Outgoing(
                    contact_id=e.contact_id,
                    idempotency_key=f"enrollment:{e.id}:step:{step.id}",
                    context={**message_data(e.data), **self.extra_context(step=step, enrollment=e)},
                    journey_id=e.journey_id,
                    step_id=step.id,
                    enrollment_id=e.id,
                )
                for e in ready
            ]
            ctx.deliver_message_ids.extend(messages_queue(template=template, outgoing=outgoing))
            for e in ready:
                results[e.id] = StepResult("next", outcome="sent")
                ctx.sent_in_batch[e.contact_id] = ctx.sent_in_batch.get(e.contact_id, 0) + 1
        return results

    def describe(self, config: dict, names: Names | None = None) -> str:
        return reference_describe(config, "template_id", names)
