"""The step kinds: one module per kind, registered here by kind name."""

from __future__ import annotations

from journeys.steps.ab_split import ABSplit
from journeys.steps.assign_coupon import AssignCoupon
from journeys.steps.attribute_split import AttributeSplit
from journeys.steps.audience import AudienceAdd
from journeys.steps.base import BatchContext, StepKind, StepResult
from journeys.steps.contact_data import ContactData
from journeys.steps.end import End
from journeys.steps.engagement import MessageEngagement
from journeys.steps.entry import Entry
from journeys.steps.has_purchased import HasPurchased
from journeys.steps.in_segment import InSegment
from journeys.steps.send_email import SendEmail
from journeys.steps.send_push import SendPush
from journeys.steps.send_sms import SendSms
from journeys.steps.survey import SendSurvey
from journeys.steps.update_contact import UpdateContact
from journeys.steps.wait import Wait

registry: dict[str, StepKind] = {
    kind.kind: kind()
    for kind in (
        Entry,
        InSegment,
        HasPurchased,
        MessageEngagement,
        AttributeSplit,
        AssignCoupon,
        SendEmail,
        SendSms,
        SendPush,
        Wait,
        ABSplit,
        UpdateContact,
        SendSurvey,
        ContactData,
        AudienceAdd,
        End,
    )
}

KIND_CHOICES = [(key, kind.label) for key, kind in registry.items()]

__all__ = ["registry", "KIND_CHOICES", "BatchContext", "StepKind", "StepResult"]
