"""What every step kind shares: the result type, the batch context and the kind base class.

A step kind validates its configuration JSON and runs as a *batch handler*: it gets every
enrollment of a batch that is due at one step and returns, per enrollment id, a StepResult:
- branch set: the step is done; the contact moves along the edge with that label
  (a missing edge ends the journey: completed);
- branch None: the contact stays at this step until `due_at` (waits, quiet hours, caps).
Handlers must not query per contact: one query (or one service call) for the whole batch.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from journeys.models import Enrollment, Step


@dataclass
class StepResult:
    branch: str | None
    due_at: datetime | None = None
    outcome: str = ""
    detail: str = ""
    # End the enrollment here (state, reason) whatever the edges say, e.g. a deleted contact.
    exit: tuple[str, str] | None = None


@dataclass
class BatchContext:
    """Shared by every handler of one batch (one transaction)."""

    now: datetime
    # Message ids to deliver once the batch has committed.
    deliver_message_ids: list[int] = field(default_factory=list)
    # Messages counted for the frequency cap within this batch, per contact.
    sent_in_batch: dict[int, int] = field(default_factory=dict)
    # Contacts to delete once the enrollments are written (delete-contact step).
    delete_contact_ids: list[int] = field(default_factory=list)


class StepKind:
    kind: ClassVar[str]
    label: ClassVar[str]
    # Fixed branch labels; kinds with configured labels override branches().
    fixed_branches: ClassVar[tuple[str, ...]] = ("next",)
    is_message: ClassVar[bool] = False

    def branches(self, config: dict) -> list[str]:
        return list(self.fixed_branches)

    def validate(self, config: dict) -> dict:
        """Return the cleaned configuration or raise ValidationError."""
        return dict(config or {})

    def run(self, *, step: Step, enrollments: list[Enrollment], ctx: BatchContext) -> dict[int, StepResult]:
        return {e.id: StepResult("next") for e in enrollments}

    def describe(self, config: dict, names: Names | None = None) -> str:
        """One line for the draft graph and the explain page; `names` from step_names_fetch()."""
        return ""


# --- how configurations read on screens ---------------------------------------------------------

# Config keys that point at other apps' rows: key -> (model label, name field, word shown).
REFERENCES: dict[str, tuple[str, str, str]] = {
    "segment_id": ("segments.Segment", "name", "segment"),
    "pool_id": ("coupons.CouponPool", "name", "pool"),
    "template_id": ("messaging.MessageTemplate", "name", "template"),
    "export_id": ("journeys.AudienceExport", "name", "export"),
    "survey_id": ("journeys.Survey", "title", "survey"),
}

# config key -> {id: name}
Names = dict[str, dict[int, str]]


def step_names_fetch(configs: Iterable[dict]) -> Names:
    """The names of every row the configurations point at: one query per kind of row (segments,
    templates, ...), whatever the number of steps."""
    from django.apps import apps

    wanted: dict[str, set[int]] = {}
    for config in configs:
        for key in REFERENCES:
            try:
                wanted.setdefault(key, set()).add(int((config or {})[key]))
            except (KeyError, TypeError, ValueError):
                continue
    names: Names = {}
    for key, ids in wanted.items():
        if not ids:
            continue
        label, field_name, _word = REFERENCES[key]
        try:
            model = apps.get_model(label)
        except LookupError:  # that app is not installed
            continue
        names[key] = dict(model.objects.filter(pk__in=ids).values_list("pk", field_name))
    return names


def reference_describe(config: dict, key: str, names: Names | None) -> str:
    """'segment “Lapsed buyers”'; without fetched names (or for a deleted row) the id."""
    word = REFERENCES[key][2]
    pk = (config or {}).get(key)
    if names is None or key not in names:
        return f"{word} {pk}"
    try:
        name = names[key].get(int(pk))
    except (TypeError, ValueError):
        name = None
    return f"{word} “{name}”" if name is not None else f"{word} {pk} (deleted)"


def duration_human(seconds: int) -> str:
    """7 days, 2 hours 30 minutes, 1 day 45 seconds (no zero parts)."""
    seconds = int(seconds)
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


# --- helpers for configuration validation ------------------------------------------------------


def require(config: dict, key: str, kind: type | tuple = object) -> Any:
    if key not in config or config[key] in (None, ""):
        raise ValidationError({key: "This setting is required."})
    value = config[key]
    if not isinstance(value, kind):
        raise ValidationError({key: f"Expected {getattr(kind, '__name__', kind)}, got {value!r}."})
    return value


def require_int(config: dict, key: str, *, minimum: int = 0) -> int:
    value = config.get(key)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({key: f"A whole number is required, got {value!r}."})
    if number < minimum:
        raise ValidationError({key: f"Must be at least {minimum}."})
    return number


def model_exists(app_label: str, model_name: str, pk: Any, key: str) -> int:
    from django.apps import apps

    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:  # the other app has not landed yet: accept the id
        return int(pk)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise ValidationError({key: f"An id is required, got {pk!r}."})
    if not model.objects.filter(pk=pk).exists():
        raise ValidationError({key: f"{model._meta.verbose_name} {pk} does not exist."})
    return pk


def contact_zone(contact) -> zoneinfo.ZoneInfo:
    name = contact.timezone or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)
