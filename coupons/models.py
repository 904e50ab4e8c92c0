"""Coupon pools and their codes.

Invariants the database enforces (so many workers can assign at once):
- a code exists once (codes are stored upper-case; shops compare them case-insensitively);
- a contact holds at most one code per pool (unique (pool, contact) for assigned codes).
A code is *available* while it is neither assigned nor redeemed; assignment claims available
codes with a conditional UPDATE (see coupons/services/assignment.py).
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class CouponPool(models.Model):
    class OfferKind(models.TextChoices):
        PERCENT = "percent", "Percent off"
        AMOUNT = "amount", "Amount off"
        FREE_SHIPPING = "free_shipping", "Free shipping"
        TEXT = "text", "Other (described in text)"

    name = models.CharField(max_length=150, unique=True)
    offer_kind = models.CharField(max_length=16, choices=OfferKind.choices, default=OfferKind.PERCENT)
    offer_value = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Percent (e.g. 15) or amount (e.g. 10.00) for percent/amount offers.",
    )
    offer_currency = models.CharField(max_length=3, default="EUR", blank=True)
    offer_text = models.CharField(
        max_length=255, blank=True, help_text="Shown to the contact, e.g. 'A free tote bag with your order'."
    )
    valid_until = models.DateTimeField(
        null=True, blank=True, help_text="Fixed end of validity for every code in the pool."
    )
    valid_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Or: each code is valid for this many days after it is assigned."
    )
    low_stock_threshold = models.PositiveIntegerField(
        default=100, help_text="Warn marketers when fewer codes than this are left."
    )
    is_active = models.BooleanField(default=True, help_text="Inactive pools hand out no codes.")
    # Set when the low-stock / exhausted alert was sent; cleared when the pool is restocked,
    # so each alert goes out once per crossing.
    low_stock_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    exhausted_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)
    # Code counts kept by the services (coupons/services/counters.py) so the pool list reads no codes.
    # Current value = these + the pool's not yet folded PoolCounterDelta rows (+ codes that expired
    # since expired_counted_until, for codes_expired). Changed only through the services.
    codes_total = models.BigIntegerField(default=0, editable=False)
    codes_assigned = models.BigIntegerField(default=0, editable=False)
    codes_redeemed = models.BigIntegerField(default=0, editable=False)
    codes_redeemed_unassigned = models.BigIntegerField(default=0, editable=False)
    codes_expired = models.BigIntegerField(default=0, editable=False)
    revenue_redeemed = models.DecimalField(max_digits=16, decimal_places=2, default=0, editable=False)
    expired_counted_until = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_days__isnull=True),
                name="couponpool_one_validity_rule",
                violation_error_message="Give either a fixed end date or a number of days, not both.",
            ),
            models.CheckConstraint(
                condition=Q(offer_kind__in=["percent", "amount", "free_shipping", "text"]),
                name="couponpool_offer_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def offer_display(self) -> str:
        if self.offer_kind == self.OfferKind.PERCENT and self.offer_value is not None:
            return f"{self.offer_value.normalize():f}% off"
        if self.offer_kind == self.OfferKind.AMOUNT and self.offer_value is not None:
            return f"{self.offer_value:.2f} {self.offer_currency} off"
        if self.offer_kind == self.OfferKind.FREE_SHIPPING:
            return "Free shipping"
        return self.offer_text or self.get_offer_kind_display()

    def expiry_for(self, assigned_at):
        """When a code assigned at `assigned_at` expires (None: never)."""
        if self.valid_until is not None:
            return self.valid_until
        if self.valid_days is not None:
            return assigned_at + timedelta(days=self.valid_days)
        return None


class Coupon(models.Model):
    class Redemption(models.TextChoices):
        VALID = "valid", "Redeemed by its contact"
        EXPIRED = "expired", "Redeemed after expiry"
        UNASSIGNED = "unassigned", "Redeemed but never assigned"
        WRONG_CONTACT = "wrong_contact", "Redeemed by another contact"

    pool = models.ForeignKey(CouponPool, on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(max_length=64, unique=True)
    # SET_NULL keeps assigned_at, so a code that reached someone is never handed out again.
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="coupons"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    redemption = models.CharField(max_length=16, choices=Redemption.choices, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey(
        "contacts.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="coupons"
    )
    redeemed_revenue = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pool", "contact"],
                condition=Q(contact__isnull=False),
                name="coupon_one_per_contact_per_pool",
            ),
            models.CheckConstraint(
                condition=Q(redemption__in=["", "valid", "expired", "unassigned", "wrong_contact"]),
                name="coupon_redemption_valid",
            ),
        ]
        indexes = [
            # The claim query: "the first free codes of this pool".
            models.Index(
                fields=["pool", "id"],
                name="coupon_available_idx",
                condition=Q(assigned_at__isnull=True, redeemed_at__isnull=True),
            ),
            models.Index(fields=["pool", "assigned_at"], name="coupon_pool_assigned_idx"),
            # Codes given out and not redeemed, by expiry: the expired count since the last fold.
            models.Index(
                fields=["pool", "expires_at"],
                name="coupon_unredeemed_expiry_idx",
                condition=Q(assigned_at__isnull=False, redeemed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_available(self) -> bool:
        return self.assigned_at is None and self.redeemed_at is None


class PoolCounterDelta(models.Model):
    """A change to a pool's counters, appended by a service in the transaction that made it.

    Appending (instead of UPDATE pool SET n = n + 1) keeps concurrent assignment batches from
    queueing on the pool row; pool_counters_fold() adds the deltas to the pool and deletes them.
    """

    pool = models.ForeignKey(CouponPool, on_delete=models.CASCADE, related_name="counter_deltas")
    codes = models.BigIntegerField(default=0)
    assigned = models.BigIntegerField(default=0)
    redeemed = models.BigIntegerField(default=0)
    redeemed_unassigned = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    def __str__(self) -> str:
        return f"Counter change for pool {self.pool_id}"


class PoolAlert(models.Model):
    """A stock warning for marketers, recorded once per crossing of the threshold."""

    class Kind(models.TextChoices):
        LOW_STOCK = "low_stock", "Low stock"
        EXHAUSTED = "exhausted", "Exhausted"

    pool = models.ForeignKey(CouponPool, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    available = models.PositiveIntegerField(help_text="Codes left when the alert was raised.")
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["pool", "created_at"], name="poolalert_pool_time_idx")]

    def __str__(self) -> str:
        return f"{self.pool}: {self.get_kind_display()} ({self.available} left)"


class CodeImport(models.Model):
    """A shop's CSV of codes imported into a pool by a background task (large admin uploads)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    pool = models.ForeignKey(CouponPool, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to="coupon-imports/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField(max_length=16, blank=True, help_text="checking or writing, while running.")
    rows = models.PositiveIntegerField(default=0, help_text="Rows read so far.")
    created_codes = models.PositiveIntegerField(default=0)
    duplicate_codes = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="Row errors: [{row, message, value}].")
    duplicates = models.JSONField(default=list, blank=True, help_text="The first skipped duplicates.")
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["pool", "created_at"], name="codeimport_pool_time_idx")]

    def __str__(self) -> str:
        return f"Code import #{self.pk} into {self.pool_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
