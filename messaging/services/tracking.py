"""Opens and clicks."""

from __future__ import annotations

from django.db.models import Case, F, Value, When
from django.utils.timezone import now

from contacts.models import Event
from messaging.models import Channel, Message

CLICK_EVENT = {
    Channel.EMAIL: Event.Kind.EMAIL_CLICK,
    Channel.SMS: Event.Kind.SMS_CLICK,
    Channel.PUSH: Event.Kind.PUSH_CLICK,
}


# Clicks after this many recorded per message still redirect but add no event (replayed links).
MAX_CLICK_EVENTS_PER_MESSAGE = 20


def message_open_record(*, message_id: int) -> bool:
    """First open of an email: sets opened_at and records an email_open event. Later opens (every
    time the email is viewed) cost one UPDATE that matches nothing; the first open time is kept."""
    moment = now()
    if not Message.objects.filter(pk=message_id, opened_at__isnull=True).update(opened_at=moment):
        return False
    contact_id = Message.objects.filter(pk=message_id).values_list("contact_id", flat=True).first()
    if contact_id is not None:
        Event.objects.create(
            contact_id=contact_id, kind=Event.Kind.EMAIL_OPEN, message_id=message_id, occurred_at=moment
        )
    return True


def message_click_record(*, message_id: int, url: str) -> bool:
    """A click is an event (with the URL), at most MAX_CLICK_EVENTS_PER_MESSAGE per message; the
    first sets clicked_at (and opened_at of an email if unset). Three or four queries."""
    moment = now()
    first = Message.objects.filter(pk=message_id, clicked_at__isnull=True).update(
        clicked_at=moment,
        opened_at=Case(
            When(channel=Channel.EMAIL, opened_at__isnull=True, then=Value(moment)),
            default=F("opened_at"),
        ),
    )
    row = Message.objects.filter(pk=message_id).values("contact_id", "channel").first()
    if row is None:
        return False
    kind = CLICK_EVENT[row["channel"]]
    if not first:
        recorded = Event.objects.filter(message_id=message_id, kind=kind)[
            :MAX_CLICK_EVENTS_PER_MESSAGE
        ].count()
        if recorded >= MAX_CLICK_EVENTS_PER_MESSAGE:
            return False
    Event.objects.create(
        contact_id=row["contact_id"],
        kind=kind,
        message_id=message_id,
        occurred_at=moment,
        properties={"url": url[:1000]},
    )
    return True
