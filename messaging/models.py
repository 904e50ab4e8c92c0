"""Message templates, the messages sent from them, push subscriptions and delivery events.

`Message` is the record reports aggregate in SQL (sent/opened/clicked per journey and step).
It references journeys by plain indexed integers so messaging does not depend on journeys.
Writes go through messaging.services; nothing here runs business logic in save().
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Web push"


class MessageTemplate(models.Model):
    """What a marketer writes. Bodies are Django template syntax rendered in a sandbox."""

    name = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    from_email = models.CharField(
        max_length=254, blank=True, help_text="Sender, e.g. 'Shop <news@shop.example>'. Default: the site's."
    )
    subject = models.CharField(max_length=255, blank=True, help_text="Email subject.")
    html_body = models.TextField(blank=True, help_text="Email HTML.")
    text_body = models.TextField(
        blank=True, help_text="Plain-text part of the email. Empty: derived from the HTML."
    )
    sms_text = models.TextField(blank=True, help_text="SMS text.")
    push_title = models.CharField(max_length=200, blank=True)
    push_body = models.TextField(blank=True)
    push_url = models.CharField(
        max_length=500, blank=True, help_text="Opened when the notification is clicked."
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()})"


class Message(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # Handed to the SMTP server/provider, but the worker stopped before the answer was recorded:
        # it may or may not have arrived. Never re-sent by itself; a marketer may retry it (the
        # stable Message-ID lets a deduplicating receiver drop the second copy).
        IN_DOUBT = "in_doubt", "In doubt"
        SUPPRESSED = "suppressed", "Suppressed"
        BOUNCED = "bounced", "Bounced"

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    reason = models.TextField(blank=True, help_text="Why it was suppressed or failed.")
    # Loose references to journeys (no FKs: messaging does not depend on journeys).
    journey_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    step_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    enrollment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Extra template values from the caller (coupon code, ...), JSON with dates tagged.
    context = models.JSONField(default=dict, blank=True)
    to_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True, help_text="Subject as rendered when sent.")
    provider_message_id = models.CharField(max_length=255, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(default=now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Delivery lease: a `sending` row whose lease ran out goes back to the queue if its attempt had
    # not started (attempt_started_at empty), else it becomes "in doubt".
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempt_started_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the last attempt was handed to the provider."
    )
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="A transient failure is retried after this."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "message"
        verbose_name_plural = "outbox"
        indexes = [
            models.Index(fields=["journey_id", "status"], name="message_journey_status_idx"),
            models.Index(fields=["journey_id", "step_id", "status"], name="message_step_status_idx"),
            models.Index(fields=["contact", "sent_at"], name="message_contact_sent_idx"),
            models.Index(fields=["status", "created_at"], name="message_status_created_idx"),
            models.Index(fields=["status", "lease_until"], name="message_status_lease_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["queued", "sending", "sent", "failed", "in_doubt", "suppressed", "bounced"]
                ),
                name="message_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk} to {self.to_address or self.contact_id}"


class PushSubscription(models.Model):
    """A browser's Web Push subscription (endpoint + keys) for one contact."""

    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.CharField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "active"], name="pushsub_contact_active_idx")]

    def __str__(self) -> str:
        return f"Push subscription #{self.pk} of contact {self.contact_id}"


class DeliveryEvent(models.Model):
    """Bounces and complaints reported by the email provider (webhook log)."""

    class Kind(models.TextChoices):
        BOUNCE = "bounce", "Bounce"
        COMPLAINT = "complaint", "Complaint"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    email = models.CharField(max_length=254, blank=True)
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="delivery_events"
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["received_at"], name="deliveryevent_received_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.email or self.message_id}"


class ReceivedMail(models.Model):
    """Mail caught by `manage.py mail_sink` (development): what the outbox really sent."""

    received_at = models.DateTimeField(default=now, editable=False)
    mail_from = models.CharField(max_length=254, blank=True)
    recipients = models.TextField(blank=True)
    subject = models.CharField(max_length=500, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    raw = models.TextField()

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "received mail (sink)"
        verbose_name_plural = "received mail (sink)"

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} to {self.recipients}"
