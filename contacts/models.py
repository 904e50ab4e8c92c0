"""Contacts, the shop's catalogue and orders, and engagement events.

Indexes are chosen for the questions segments and journeys ask at
1M contacts / 10M orders: "orders of this contact in the last N days",
"events of kind K in the last N days", lookups by external id and email.
"""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

E164 = RegexValidator(r"^\+[1-9]\d{6,14}$", "Phone numbers are stored in E.164 form, e.g. +4915112345678.")


def validate_timezone(value: str) -> None:
    if not value:
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Berlin).") from None


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        ANONYMIZED = "anonymized", "Anonymized"

    class ConsentSource(models.TextChoices):
        IMPORT = "import", "Import"
        API = "api", "API"
        SIGNUP_FORM = "signup_form", "Signup form"
        CHECKOUT = "checkout", "Checkout"
        ADMIN = "admin", "Admin"
        PREFERENCES = "preferences", "Preferences page"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"
        JOURNEY = "journey", "Journey"

    external_id = models.CharField(max_length=100, null=True, blank=True, help_text="The shop's customer id.")
    email = models.CharField(max_length=254, null=True, blank=True, help_text="Stored lower-case.")
    phone = models.CharField(max_length=16, blank=True, validators=[E164])
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    locale = models.CharField(max_length=16, blank=True, help_text="e.g. en, de-AT")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])
    signed_up_at = models.DateTimeField(null=True, blank=True)

    email_consent = models.BooleanField(default=False)
    email_consent_at = models.DateTimeField(null=True, blank=True)
    email_consent_source = models.CharField(max_length=20, choices=ConsentSource.choices, blank=True)
    sms_consent = models.BooleanField(default=False)
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent_source = models.CharField(max_length=20, choices=ConsentSource.choices, blank=True)
    push_consent = models.BooleanField(default=False)
    push_consent_at = models.DateTimeField(null=True, blank=True)
    push_consent_source = models.CharField(max_length=20, choices=ConsentSource.choices, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    attributes = models.JSONField(
        default=dict,
        blank=True,
        help_text="Custom attributes, e.g. referral_successful_count, referral_activity.",
    )
    last_activity_at = models.DateTimeField(null=True, blank=True, help_text="Last site activity.")

    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="contact_external_id_unique",
            ),
            # Pattern operator class (PostgreSQL; ignored elsewhere): the same index serves exact
            # lookups and the admin's email prefix search (LIKE 'anna%') at 1M contacts.
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(email__isnull=False),
                name="contact_email_unique",
                opclasses=["varchar_pattern_ops"],
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "unsubscribed", "bounced", "anonymized"]),
                name="contact_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="contact_status_idx"),
            models.Index(fields=["last_activity_at"], name="contact_last_activity_idx"),
            models.Index(fields=["signed_up_at"], name="contact_signed_up_idx"),
            models.Index(fields=["country"], name="contact_country_idx"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.external_id or f"Contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def can_receive(self, channel: str) -> bool:
        """Whether a message on `channel` (email, sms, push) may be sent to this contact."""
        if self.status != self.Status.ACTIVE:
            return False
        return bool(getattr(self, f"{channel}_consent", False))


class Product(models.Model):
    sku = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=255)
    category = models.CharField(max_length=100, blank=True)
    brand = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    url = models.URLField(max_length=500, blank=True)
    image_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["category"], name="product_category_idx"),
            models.Index(fields=["brand"], name="product_brand_idx"),
            models.Index(fields=["created_at"], name="product_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(models.Model):
    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        PAID = "paid", "Paid"
        FULFILLED = "fulfilled", "Fulfilled"
        CANCELLED = "cancelled", "Cancelled"
        REFUNDED = "refunded", "Refunded"

    # Orders in these states do not count as purchases for scoring, segments or conversions.
    NOT_PURCHASES = (Status.CANCELLED, Status.REFUNDED)

    external_id = models.CharField(max_length=100, unique=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="orders")
    placed_at = models.DateTimeField()
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    coupon_code = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PAID)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "placed_at"], name="order_contact_placed_idx"),
            models.Index(fields=["placed_at"], name="order_placed_idx"),
            models.Index(fields=["coupon_code"], name="order_coupon_code_idx", condition=~Q(coupon_code="")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Order {self.external_id}"

    @property
    def counts_as_purchase(self) -> bool:
        return self.status not in self.NOT_PURCHASES


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="order_lines"
    )
    sku = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["product", "order"], name="orderline_product_order_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class Event(models.Model):
    """Engagement that segments and journeys ask about "in the last N days"."""

    class Kind(models.TextChoices):
        SITE_VISIT = "site_visit", "Site visit"
        PRODUCT_VIEW = "product_view", "Product view"
        CART_ADD = "cart_add", "Added to cart"
        EMAIL_OPEN = "email_open", "Email opened"
        EMAIL_CLICK = "email_click", "Email link clicked"
        SMS_CLICK = "sms_click", "SMS link clicked"
        PUSH_CLICK = "push_click", "Push notification clicked"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
        BOUNCE = "bounce", "Bounced"
        COMPLAINT = "complaint", "Complaint"
        CUSTOM = "custom", "Custom"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(default=now)
    # Loose reference to messaging.Message for opens/clicks (no FK: messages may be pruned).
    message_id = models.BigIntegerField(null=True, blank=True)
    external_id = models.CharField(
        max_length=100, null=True, blank=True, help_text="Idempotency key from the shop."
    )
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "kind", "occurred_at"], name="event_contact_kind_time_idx"),
            models.Index(fields=["kind", "occurred_at"], name="event_kind_time_idx"),
            models.Index(
                fields=["message_id"], name="event_message_idx", condition=Q(message_id__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="event_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A token per integration (e.g. one per shop) for the JSON API. Only a hash is stored."""

    name = models.CharField(max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=8, editable=False, help_text="First characters, to recognise a token."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ImportJob(models.Model):
    """One CSV import (admin upload, background task or command line) and its progress."""

    class Kind(models.TextChoices):
        CONTACTS = "contacts", "Contacts"
        PRODUCTS = "products", "Products"
        ORDERS = "orders", "Orders"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    format = models.CharField(
        max_length=16, default="auto", help_text="auto, winback or shopify; the detected one once read."
    )
    phase = models.CharField(max_length=16, blank=True, help_text="validating or writing, while running.")
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    updated_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="Row-level errors: [{row, column, message}]."
    )
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    skipped = models.JSONField(
        default=list,
        blank=True,
        help_text="Rows not imported on purpose (erased people): [{row, column, message}].",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import #{self.pk} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))


class Suppression(models.Model):
    """An erased person who must not come back through an import or the API (issue 12).

    Holds a keyed hash (HMAC-SHA256, contacts.services.suppression) of the normalised email or
    phone, never the value itself. A marketer may lift it for one person with a stated reason;
    erasing the person again re-arms it.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    digest = models.CharField(max_length=64, unique=True, help_text="HMAC-SHA256 of kind and value.")
    mode = models.CharField(max_length=16, help_text="anonymize or delete")
    source = models.CharField(max_length=32, blank=True)
    erased_at = models.DateTimeField(default=now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lift_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-erased_at"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["email", "phone"]), name="suppression_kind_valid"),
        ]

    def __str__(self) -> str:
        state = f"lifted {self.lifted_at:%Y-%m-%d}" if self.lifted_at else "active"
        return f"Erased {self.get_kind_display().lower()} ({self.erased_at:%Y-%m-%d}, {state})"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None
