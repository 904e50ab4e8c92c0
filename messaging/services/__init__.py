"""Everything that changes messaging state, one module per concern.

Import from `messaging.services` (other apps and messaging's own admin, views and tasks do); the
modules are an internal layout:

- `queueing`      Outgoing, messages_queue, messages_deliver_later
- `delivery`      messages_deliver: claim, re-check, render, send, record
- `claims`        the lease on claimed messages and their outcomes, rate limiting, Message-IDs
- `channels`      the per-channel senders (email, SMS, push) and how a send error is classified
- `recovery`      the sweep (expired leases), lost tasks, the marketer's retry
- `suppression`   who may get a message on a channel
- `templates`     template validation and saving
- `tracking`      opens and clicks
- `consent`       preferences and unsubscribe
- `webhooks`      bounces and complaints from the provider
- `push_subscriptions`  browser push subscriptions
- `forget`        GDPR erasure of messaging data
"""

from messaging.services.channels import send_error_kind
from messaging.services.claims import (
    MAX_SEND_ERRORS_IN_A_ROW,
    DeliveryReport,
    Lease,
    RateLimiter,
    channel_rate,
    message_id_header,
    retry_delay,
)
from messaging.services.common import CHUNK
from messaging.services.consent import (
    CHANNELS,
    contact_preferences_update,
    contact_unsubscribe,
    unsubscribe_channel,
)
from messaging.services.delivery import DeliveryFailed, messages_deliver
from messaging.services.forget import messages_forget, on_contacts_forgotten
from messaging.services.push_subscriptions import (
    MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT,
    PUSH_LOCAL_SUFFIXES,
    push_endpoint_problem,
    push_subscription_upsert,
)
from messaging.services.queueing import Outgoing, messages_deliver_later, messages_queue
from messaging.services.recovery import (
    RETRYABLE,
    SweepReport,
    messages_recover_expired,
    messages_recover_interrupted,
    messages_redeliver_stale,
    messages_retry,
)
from messaging.services.suppression import email_address_valid, from_email_problem
from messaging.services.templates import (
    CHANNEL_FIELDS,
    REQUIRED_FIELDS,
    message_template_problems,
    message_template_save,
)
from messaging.services.tracking import (
    CLICK_EVENT,
    MAX_CLICK_EVENTS_PER_MESSAGE,
    message_click_record,
    message_open_record,
)
from messaging.services.webhooks import delivery_event_record

__all__ = [
    "CHANNELS",
    "CHANNEL_FIELDS",
    "CHUNK",
    "CLICK_EVENT",
    "MAX_CLICK_EVENTS_PER_MESSAGE",
    "MAX_PUSH_SUBSCRIPTIONS_PER_CONTACT",
    "MAX_SEND_ERRORS_IN_A_ROW",
    "PUSH_LOCAL_SUFFIXES",
    "REQUIRED_FIELDS",
    "RETRYABLE",
    "DeliveryFailed",
    "DeliveryReport",
    "Outgoing",
    "RateLimiter",
    "Lease",
    "SweepReport",
    "channel_rate",
    "contact_preferences_update",
    "contact_unsubscribe",
    "delivery_event_record",
    "email_address_valid",
    "from_email_problem",
    "message_click_record",
    "message_id_header",
    "message_open_record",
    "message_template_problems",
    "message_template_save",
    "messages_deliver",
    "messages_deliver_later",
    "messages_forget",
    "messages_queue",
    "messages_recover_expired",
    "messages_recover_interrupted",
    "messages_redeliver_stale",
    "messages_retry",
    "retry_delay",
    "send_error_kind",
    "on_contacts_forgotten",
    "push_endpoint_problem",
    "push_subscription_upsert",
    "unsubscribe_channel",
]
