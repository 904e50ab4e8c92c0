"""Journeys: a graph of steps that contacts walk through by themselves.

Invariants the database enforces (so retried tasks, killed workers and two workers at once
never double-send, double-assign or skip):
- a step runs at most once per enrollment visit: UNIQUE (enrollment, step, visit) on StepRun;
- a contact is in a journey at most once at a time (partial UNIQUE on active/waiting enrollments)
  and enters at most once per entry key (UNIQUE (journey, contact, entry_key));
- a published version is frozen: its steps/edges are copies of the draft graph (version=NULL).

Steps reference other apps' rows (segment, message template, coupon pool) by id inside their
validated configuration JSON, so journeys keeps no foreign keys into apps it only calls.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.timezone import now


def _step_key() -> str:
    return uuid.uuid4().hex[:12]


class Journey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    class Reentry(models.TextChoices):
        NEVER = "never", "Never"
        AFTER_DAYS = "after_days", "After N days"

    class CapAction(models.TextChoices):
        POSTPONE = "postpone", "Postpone until the cap allows"
        SKIP = "skip", "Skip the message and go on"

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, editable=False)
    current_version = models.ForeignKey(
        "JourneyVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    # Settings.
    reentry = models.CharField(max_length=16, choices=Reentry.choices, default=Reentry.NEVER)
    reentry_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="With 'after N days': days after the last entry."
    )
    holdout_percent = models.PositiveSmallIntegerField(
        default=0, help_text="Percent of entrants who are never messaged (to measure lift)."
    )
    conversion_window_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Conversion goal: a purchase within this many days after entry exits the contact "
        "and is attributed to the journey. Empty: no goal.",
    )
    quiet_hours_start = models.TimeField(
        null=True, blank=True, help_text="In the contact's time zone, e.g. 21:00."
    )
    quiet_hours_end = models.TimeField(null=True, blank=True, help_text="e.g. 08:00.")
    frequency_cap_messages = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many messages per contact (across all journeys)…"
    )
    frequency_cap_days = models.PositiveIntegerField(null=True, blank=True, help_text="…per this many days.")
    frequency_cap_action = models.CharField(
        max_length=16, choices=CapAction.choices, default=CapAction.POSTPONE
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=100), name="journey_holdout_percent_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "active", "paused", "archived"]), name="journey_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class JourneyVersion(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    published_at = models.DateTimeField(default=now)
    published_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journeyversion_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.journey} v{self.number}"


class Step(models.Model):
    """A node of a journey graph. version NULL: the editable draft; otherwise a frozen copy."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    version = models.ForeignKey(
        JourneyVersion, on_delete=models.CASCADE, null=True, blank=True, related_name="steps", editable=False
    )
    key = models.CharField(
        max_length=32, default=_step_key, help_text="Stable across versions (used to map contacts)."
    )
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=150, blank=True)
    config = models.JSONField(default=dict, blank=True)
    x = models.IntegerField(default=0, help_text="Editor position.")
    y = models.IntegerField(default=0)

    class Meta:
        ordering = ["journey", "version", "y", "x", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "key"], condition=Q(version__isnull=True), name="step_draft_key_unique"
            ),
            models.UniqueConstraint(
                fields=["version", "key"], condition=Q(version__isnull=False), name="step_version_key_unique"
            ),
        ]

    def __str__(self) -> str:
        from journeys.steps import registry

        kind = registry.get(self.kind)
        label = kind.label if kind else self.kind
        return f"{self.name or label} ({label})" if self.name else label


class Edge(models.Model):
    """From a step along a branch label (next, yes/no, A/B labels, exhausted, attribute values...)."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="edges")
    version = models.ForeignKey(
        JourneyVersion, on_delete=models.CASCADE, null=True, blank=True, related_name="edges", editable=False
    )
    from_step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="out_edges")
    branch = models.CharField(max_length=64, default="next")
    to_step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="in_edges")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_step", "branch"], name="edge_one_per_branch"),
        ]

    def __str__(self) -> str:
        return f"{self.from_step} --{self.branch}--> {self.to_step}"


class Enrollment(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active (due to run its step)"
        WAITING = "waiting", "Waiting"
        COMPLETED = "completed", "Completed"
        EXITED = "exited", "Exited"
        FAILED = "failed", "Failed"

    IN_FLIGHT = (State.ACTIVE, State.WAITING)

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments")
    version = models.ForeignKey(JourneyVersion, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="enrollments")
    step = models.ForeignKey(Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    due_at = models.DateTimeField(null=True, blank=True)
    step_entered_at = models.DateTimeField(default=now)
    # Increments each time the enrollment moves to a step: part of the StepRun idempotency key.
    visit = models.PositiveIntegerField(default=0)
    entry_key = models.CharField(max_length=40, help_text="One entry per contact per key (see services).")
    entered_at = models.DateTimeField(default=now)
    exited_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=64, blank=True)
    holdout = models.BooleanField(default=False)
    variant = models.CharField(max_length=64, blank=True)
    wait_reason = models.CharField(max_length=200, blank=True, help_text="Why it waits (for 'explain').")
    data = models.JSONField(default=dict, blank=True, help_text="Values later steps use, e.g. the coupon.")
    claimed_by = models.CharField(max_length=40, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "contact", "entry_key"], name="enrollment_one_entry_per_key"
            ),
            models.UniqueConstraint(
                fields=["journey", "contact"],
                condition=Q(state__in=["active", "waiting"]),
                name="enrollment_one_in_flight",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["active", "waiting", "completed", "exited", "failed"]),
                name="enrollment_state_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], name="enrollment_due_idx", condition=Q(state__in=["active", "waiting"])
            ),
            models.Index(fields=["journey", "state"], name="enrollment_journey_state_idx"),
            models.Index(fields=["contact", "journey"], name="enrollment_contact_idx"),
            models.Index(fields=["step"], name="enrollment_step_idx"),
            # Tiny: only rows a worker holds right now (loading a batch by its claim token).
            models.Index(fields=["claimed_by"], name="enrollment_claimed_idx", condition=~Q(claimed_by="")),
        ]

    def __str__(self) -> str:
        return f"Enrollment {self.pk} ({self.journey_id}/{self.contact_id})"


class StepRun(models.Model):
    """Every step each contact passed: the history and the at-most-once key."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="runs")
    visit = models.PositiveIntegerField()
    # Denormalised for the cross-journey frequency cap and the contact story.
    contact_id = models.BigIntegerField()
    journey_id = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    branch = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=32, blank=True, help_text="sent, suppressed, holdout, capped...")
    detail = models.CharField(max_length=255, blank=True)
    ran_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["ran_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step", "visit"], name="steprun_once_per_visit")
        ]
        indexes = [
            models.Index(fields=["contact_id", "outcome", "ran_at"], name="steprun_contact_outcome_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.branch or '-'} ({self.outcome})"


class Conversion(models.Model):
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="conversions")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="conversions")
    order = models.ForeignKey("contacts.Order", on_delete=models.CASCADE, related_name="+")
    contact_id = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=12, decimal_places=2)
    variant = models.CharField(max_length=64, blank=True)
    holdout = models.BooleanField(default=False)
    converted_at = models.DateTimeField()
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment"], name="conversion_one_per_enrollment"),
            models.UniqueConstraint(fields=["journey", "order"], name="conversion_order_once_per_journey"),
        ]
        indexes = [models.Index(fields=["journey", "converted_at"], name="conversion_journey_idx")]

    def __str__(self) -> str:
        return f"Conversion {self.order_id} ({self.revenue})"


class JourneySegmentMember(models.Model):
    """Who matched the entry segment at the last run (for 'only those new since the last run')."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    contact_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["journey", "contact_id"], name="segmentmember_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}/{self.contact_id}"


class EntryRun(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="entry_runs")
    started_at = models.DateTimeField(default=now)
    entered = models.PositiveIntegerField(default=0)
    error = models.CharField(
        max_length=500, blank=True, help_text="Why nobody could enter (e.g. the segment was deleted)."
    )

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        if self.error:
            return f"Entry run {self.pk} failed: {self.error}"
        return f"Entry run {self.pk}: {self.entered} entered"


class Survey(models.Model):
    title = models.CharField(max_length=150)
    intro = models.TextField(blank=True)
    thank_you = models.CharField(max_length=255, default="Thank you!")
    created_at = models.DateTimeField(default=now, editable=False)

    def __str__(self) -> str:
        return self.title


class SurveyQuestion(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Free text"
        CHOICE = "choice", "One of the choices"
        SCALE = "scale", "1 to 5"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    choices = models.CharField(max_length=500, blank=True, help_text="Comma separated, for 'choice'.")
    attribute = models.SlugField(max_length=64, help_text="Stored as contact.attributes[survey_<this>].")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["survey", "order", "id"]

    def __str__(self) -> str:
        return self.text

    @property
    def choice_list(self) -> list[str]:
        return [c.strip() for c in self.choices.split(",") if c.strip()]


class AudienceExport(models.Model):
    """An ad audience (hashed e-mail/phone) filled by journey steps, downloadable as CSV in the admin."""

    name = models.CharField(max_length=150, unique=True)
    created_at = models.DateTimeField(default=now, editable=False)

    def __str__(self) -> str:
        return self.name


class AudienceMember(models.Model):
    export = models.ForeignKey(AudienceExport, on_delete=models.CASCADE, related_name="members")
    contact_id = models.BigIntegerField()
    email_sha256 = models.CharField(max_length=64, blank=True)
    phone_sha256 = models.CharField(max_length=64, blank=True)
    added_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["export", "contact_id"], name="audiencemember_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.export_id}/{self.contact_id}"


class AuditLog(models.Model):
    """Who did what to a contact's personal data (deletions and anonymisations)."""

    action = models.CharField(max_length=32)
    contact_id = models.BigIntegerField()
    journey_id = models.BigIntegerField(null=True, blank=True)
    enrollment_id = models.BigIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["contact_id"], name="auditlog_contact_idx")]

    def __str__(self) -> str:
        return f"{self.action} contact {self.contact_id}"


class JourneyStat(models.Model):
    """Enrollment counts per journey by state, variant and holdout: a rollup the journey list and page
    read instead of counting every enrollment per view. Rebuilt set-based by journey_stats_refresh()
    (beat, every minute); the page shows its age."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="stats")
    state = models.CharField(max_length=16)
    variant = models.CharField(max_length=64, blank=True)
    holdout = models.BooleanField(default=False)
    enrolled = models.PositiveIntegerField(default=0)
    converted = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "state", "variant", "holdout"], name="journeystat_one_row_per_group"
            )
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} {self.state}/{self.variant or '-'}{'/holdout' if self.holdout else ''}"
