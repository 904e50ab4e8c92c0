"""The product-wide audit trail: who changed what, when, with the values before and after."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.timezone import now


class AuditEntry(models.Model):
    """One change. Append-only: written by audit.services.audit_record(), never edited; only
    superusers may delete rows (in the admin)."""

    created_at = models.DateTimeField(default=now, editable=False, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The login at the time: stays readable when the account is deleted ("" = the system).
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True, help_text="e.g. journey.pause, segment.change")
    object_type = models.CharField(max_length=100, help_text="app_label.model, e.g. journeys.journey")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    # {"field": [before, after]} for changes, or any JSON-able detail ({"count": 3, "reason": "..."}).
    changes = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=32, blank=True, help_text="admin, api, worker, command ...")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["user", "created_at"], name="audit_user_idx"),
        ]

    def __str__(self) -> str:
        who = self.username or "system"
        return f"{who}: {self.action} {self.object_type} {self.object_id}".strip()
