"""Scores per contact, scoring runs and their history, and dynamic segments.

Scores are written in bulk by `segments.services.scoring.scoring_run_execute`; segments
compile their rule tree to one queryset in `segments.rules`.
"""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now


class LifecycleStage(models.TextChoices):
    NEVER = "never", "Never purchased"
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    DEFECTING = "defecting", "Defecting"
    LOST = "lost", "Inactive / lost"


class ValueCluster(models.TextChoices):
    INACTIVE = "Inactive", "Inactive"
    LOW = "Low", "Low"
    MEDIUM = "Medium", "Medium"
    HIGH = "High", "High"


class ScoringRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Nightly schedule"
        ADMIN = "admin", "Admin"
        IMPORT = "import", "Large import"
        COMMAND = "command", "Command line"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.ADMIN)
    created_at = models.DateTimeField(default=now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    as_of = models.DateTimeField(null=True, blank=True, help_text="The moment recency is measured from.")
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    progress_note = models.CharField(max_length=200, blank=True)
    contacts_scored = models.PositiveIntegerField(default=0)
    buyers = models.PositiveIntegerField(default=0)
    changes_recorded = models.PositiveIntegerField(default=0)
    clv_fit = models.JSONField(
        null=True,
        blank=True,
        help_text="BG/NBD and Gamma-Gamma parameters and log-likelihoods of this run.",
    )
    clv_missing_reason = models.TextField(blank=True, help_text="Why this run has no CLV, if it has none.")
    error = models.TextField(blank=True)
    phase_seconds = models.JSONField(default=dict, blank=True, help_text="Seconds spent in each phase.")
    lookback = models.BooleanField(
        default=False,
        help_text="A run as of a date before the latest run: it reports but leaves today's scores and "
        "history as they are.",
    )
    scores_written = models.PositiveIntegerField(
        default=0, help_text="Score rows inserted or updated (only rows whose values changed are written)."
    )
    distribution = models.JSONField(
        default=dict, blank=True, help_text="R, F and M histograms and the R x F segment grid with counts."
    )
    model_check = models.JSONField(
        null=True, blank=True, help_text="Calibration/holdout check of the CLV model (fit 26 weeks back)."
    )
    model_check_missing_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="scoringrun_status_idx")]

    def __str__(self) -> str:
        return f"Scoring run #{self.pk} ({self.status})"


class ContactScore(models.Model):
    contact = models.OneToOneField(
        "contacts.Contact", on_delete=models.CASCADE, primary_key=True, related_name="score"
    )
    # No database constraint on run: every score row a run rewrites would otherwise pay a foreign-key check
    # (about 1M a day at 1M contacts). Runs are created before their rows; SET_NULL is applied by Django.
    run = models.ForeignKey(
        ScoringRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    recency_days = models.IntegerField(null=True, blank=True)
    frequency = models.PositiveIntegerField(default=0, help_text="Purchases (orders not cancelled/refunded).")
    monetary_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    monetary_avg = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    r_score = models.PositiveSmallIntegerField(null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_segment = models.CharField(max_length=32, blank=True)
    lifecycle_stage = models.CharField(
        max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.NEVER
    )
    p_alive = models.FloatField(null=True, blank=True)
    expected_purchases = models.FloatField(null=True, blank=True)
    expected_order_value = models.FloatField(null=True, blank=True)
    predicted_clv = models.FloatField(null=True, blank=True)
    clv_cluster = models.CharField(max_length=16, choices=ValueCluster.choices, blank=True)
    scored_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["rfm_segment"], name="score_rfm_segment_idx"),
            models.Index(fields=["lifecycle_stage"], name="score_stage_idx"),
            models.Index(fields=["clv_cluster"], name="score_cluster_idx"),
            models.Index(fields=["r_score", "f_score", "m_score"], name="score_rfm_idx"),
            models.Index(fields=["p_alive"], name="score_p_alive_idx"),
            # predicted_clv: score_clv_desc_idx (migration 0003) serves ranges and both orders; a second
            # index on it only slowed the daily rewrite of every buyer's row.
        ]

    def __str__(self) -> str:
        return f"Scores of contact {self.contact_id}"


class ScoreChange(models.Model):
    """A change of segment, stage or value cluster, written only when the value changed."""

    class Field(models.TextChoices):
        SEGMENT = "segment", "RFM segment"
        STAGE = "stage", "Lifecycle stage"
        CLUSTER = "cluster", "Value cluster"

    # No database constraints (a check per row: measured 74-84 s against 36-42 s to insert 3M history rows):
    # rows are appended by a run, created before them, for contacts it has just read; CASCADE is Django's,
    # and on PostgreSQL a statement trigger on contacts_contact deletes the history of deleted contacts
    # whatever the path (migration 0008).
    # contact: its own index would repeat scorechange_contact_idx (contact first).
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.CASCADE,
        related_name="score_changes",
        db_index=False,
        db_constraint=False,
    )
    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="changes", db_constraint=False)
    changed_at = models.DateTimeField()
    field = models.CharField(max_length=16, choices=Field.choices)
    old = models.CharField(max_length=32, blank=True)
    new = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "field", "changed_at"], name="scorechange_contact_idx"),
            models.Index(fields=["field", "new", "changed_at"], name="scorechange_new_idx"),
            models.Index(fields=["field", "old", "changed_at"], name="scorechange_old_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.field}: {self.old or '—'} → {self.new or '—'}"


class Segment(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    rules = models.JSONField(
        default=dict,
        blank=True,
        help_text='A rule tree: {"op": "and", "rules": [{"field": ..., "operator": ..., "value": ...}]}.',
    )
    size = models.PositiveIntegerField(null=True, blank=True, help_text="Contacts at the last evaluation.")
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentSize(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="sizes")
    measured_at = models.DateTimeField(default=now)
    size = models.PositiveIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-measured_at"]
        indexes = [models.Index(fields=["segment", "measured_at"], name="segmentsize_segment_idx")]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.size} at {self.measured_at:%Y-%m-%d %H:%M}"


class ContactPurchaseStats(models.Model):
    """Each buyer's purchases (orders not cancelled/refunded) for the purchase rules: the last one, and
    count and sum of those placed since the window starts of the anchor day (PurchaseStatsDay).

    `n30`/`s30` count and sum the purchases placed at or after midnight UTC of (anchor day - 30 days),
    likewise 90 and 365, with no upper bound. A rule "N+ purchases in the last 90 days" asked at `now`
    (on or after the anchor day) subtracts the few purchases placed between that midnight and now - 90
    days, so it stays exact between refreshes (segments.rules.purchase_windows).

    PostgreSQL only: statement-level triggers on contacts_order (insert, update, delete, truncate;
    migrations 0006 and 0008) keep it exact for every write path, COPY and bulk_create included. On SQLite
    it stays empty and the rules read the orders. No foreign key on purpose: the demo seed drops and
    rebuilds the contacts tables' constraints around its COPY.
    """

    contact_id = models.BigIntegerField(primary_key=True)
    last_purchase_at = models.DateTimeField()
    n30 = models.IntegerField(default=0)
    s30 = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    n90 = models.IntegerField(default=0)
    s90 = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    n365 = models.IntegerField(default=0)
    s365 = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        indexes = [
            models.Index(fields=["last_purchase_at", "contact_id"], name="purchase_stats_last_idx"),
            *(
                models.Index(fields=[column], include=["contact_id"], name=f"purchase_stats_{column}_idx")
                for column in ("n30", "s30", "n90", "s90", "n365", "s365")
            ),
        ]
        verbose_name_plural = "contact purchase stats"

    def __str__(self) -> str:
        return f"contact {self.contact_id}: last purchase {self.last_purchase_at:%Y-%m-%d}"


class PurchaseStatsDay(models.Model):
    """One row: the anchor day of ContactPurchaseStats' window columns (moved forward by
    segments.purchase_stats.purchase_stats_refresh, hourly by beat; a no-op once done for the day)."""

    refreshed_on = models.DateField()
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"purchase windows anchored on {self.refreshed_on}"
