"""Journey lifecycle: validate, publish (freeze a version), pause, resume, archive, migrate contacts,
and the entry schedule (django-celery-beat PeriodicTask rows owned only by these services)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from journeys.models import Edge, Enrollment, Journey, JourneyVersion, Step
from journeys.steps import registry

ENTRY_TASK = "journeys.tasks.journey_enter"


def _task_name(journey: Journey) -> str:
    return f"journey:{journey.pk}:entry"


def journey_graph_validate(*, journey: Journey, version: JourneyVersion | None = None) -> list[Step]:
    """Check the graph (draft by default). Cleans each step's configuration. Raises ValidationError."""
    steps = list(Step.objects.filter(journey=journey, version=version))
    edges = list(Edge.objects.filter(journey=journey, version=version))
    errors: list[str] = []
    entries = [s for s in steps if s.kind == "entry"]
    if len(entries) != 1:
        errors.append(f"A journey needs exactly one entry step (found {len(entries)}).")
    by_id = {s.id: s for s in steps}
    for step in steps:
        kind = registry.get(step.kind)
        if kind is None:
            errors.append(f"Step {step}: unknown kind {step.kind!r}.")
            continue
        try:
            step.config = kind.validate(step.config)
        except ValidationError as exc:
            errors.append(f"Step {step.name or step.kind}: {'; '.join(exc.messages)}")
    message_keys = {s.key for s in steps if getattr(registry.get(s.kind), "is_message", False)}
    for step in steps:
        if step.kind == "engagement" and step.config.get("step_key") not in message_keys:
            errors.append(
                f"Step {step.name or step.kind}: step_key {step.config.get('step_key')!r} is not the key of "
                "a message step of this journey."
            )
    for edge in edges:
        source = by_id.get(edge.from_step_id)
        if source is None or edge.to_step_id not in by_id:
            errors.append(f"Edge {edge.pk} links steps of another version.")
            continue
        kind = registry.get(source.kind)
        if kind and edge.branch not in kind.branches(source.config):
            errors.append(
                f"Step {source.name or source.kind} has no branch {edge.branch!r} "
                f"(branches: {', '.join(kind.branches(source.config)) or 'none'})."
            )
    if entries and not errors:
        reachable, frontier = {entries[0].id}, [entries[0].id]
        out = defaultdict(list)
        for edge in edges:
            out[edge.from_step_id].append(edge.to_step_id)
        while frontier:
            for nxt in out[frontier.pop()]:
                if nxt not in reachable:
                    reachable.add(nxt)
                    frontier.append(nxt)
        for step in steps:
            if step.id not in reachable:
                errors.append(f"Step {step.name or step.kind} cannot be reached from the entry.")
    if errors:
        raise ValidationError(errors)
    return steps


@transaction.atomic
def journey_publish(*, journey: Journey, user=None, now: datetime | None = None) -> JourneyVersion:
    """Freeze the draft graph as a new version and make it the one new contacts enter.

    Contacts already in flight stay on the version they entered (see journey_migrate).
    """
    now = now or timezone.now()
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status == Journey.Status.ARCHIVED:
        raise ValidationError("An archived journey cannot be published.")
    steps = journey_graph_validate(journey=journey)
    number = (journey.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = JourneyVersion.objects.create(
        journey=journey, number=number, published_at=now, published_by=user
    )
    copies = Step.objects.bulk_create(
        [
            Step(
                journey=journey,
                version=version,
                key=s.key,
                kind=s.kind,
                name=s.name,
                config=s.config,
                x=s.x,
                y=s.y,
            )
            for s in steps
        ]
    )
    new_id = {old.id: new.id for old, new in zip(steps, copies, strict=True)}
    Edge.objects.bulk_create(
        [
            Edge(
                journey=journey,
                version=version,
                from_step_id=new_id[e.from_step_id],
                branch=e.branch,
                to_step_id=new_id[e.to_step_id],
            )
            for e in Edge.objects.filter(journey=journey, version=None)
        ]
    )
    # Keep the cleaned configuration on the draft too.
    Step.objects.bulk_update(steps, ["config"])
    journey.current_version = version
    if journey.status == Journey.Status.DRAFT:
        journey.status = Journey.Status.ACTIVE
    journey.updated_at = now
    journey.save(update_fields=["current_version", "status", "updated_at"])
    journey_schedule_sync(journey=journey)
    return version


@transaction.atomic
def journey_pause(*, journey: Journey) -> Journey:
    """Contacts stay where they are; entry stops. The tick skips paused journeys."""
    updated = Journey.objects.filter(pk=journey.pk, status=Journey.Status.ACTIVE).update(
        status=Journey.Status.PAUSED, updated_at=timezone.now()
    )
    if not updated:
        raise ValidationError("Only an active journey can be paused.")
    journey.refresh_from_db()
    journey_schedule_sync(journey=journey)
    return journey


@transaction.atomic
def journey_resume(*, journey: Journey) -> Journey:
    """Contacts continue from where they were (anything that fell due while paused runs next tick)."""
    updated = Journey.objects.filter(
        pk=journey.pk, status=Journey.Status.PAUSED, current_version__isnull=False
    ).update(status=Journey.Status.ACTIVE, updated_at=timezone.now())
    if not updated:
        raise ValidationError("Only a paused, published journey can be resumed.")
    journey.refresh_from_db()
    journey_schedule_sync(journey=journey)
    return journey


@transaction.atomic
def journey_archive(*, journey: Journey, now: datetime | None = None) -> int:
    """Stop the journey for good: contacts in flight exit ('journey archived'). Returns how many exited."""
    now = now or timezone.now()
    Journey.objects.filter(pk=journey.pk).update(status=Journey.Status.ARCHIVED, updated_at=now)
    journey.refresh_from_db()
    exited = Enrollment.objects.filter(journey=journey, state__in=Enrollment.IN_FLIGHT).update(
        state=Enrollment.State.EXITED,
        exited_at=now,
        exit_reason="journey archived",
        due_at=None,
        claimed_by="",
        claimed_until=None,
    )
    journey_schedule_sync(journey=journey)
    return exited


@transaction.atomic
def journey_delete(*, journey: Journey) -> None:
    """Delete a journey with its versions, enrollments and history, and its entry schedule."""
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    PeriodicTask.objects.filter(name=_task_name(journey)).delete()
    PeriodicTasks.update_changed()
    journey.delete()


@transaction.atomic
def journey_migrate(
    *,
    from_version: JourneyVersion,
    to_version: JourneyVersion,
    step_mapping: dict[int, int],
    now: datetime | None = None,
) -> int:
    """Move ALL in-flight contacts of `from_version` to `to_version`: {old step id: new step id}.

    Every step of `from_version` where contacts are in flight must be mapped: an omitted one is a
    ValidationError before anything moves (nobody is left behind by accident). Moved contacts run
    their new step at the next tick (a wait restarts from now) as a new visit (their step history
    never collides). Clearing the claim makes a batch that is advancing these contacts right now
    roll back (its write-back checks the claim). Returns how many moved.
    """
    if from_version.journey_id != to_version.journey_id:
        raise ValidationError("Both versions must belong to the same journey.")
    if from_version.pk == to_version.pk:
        raise ValidationError("Pick two different versions.")
    try:
        mapping = {int(k): int(v) for k, v in step_mapping.items()}
    except (TypeError, ValueError):
        raise ValidationError("The step mapping must map step ids to step ids.") from None
    # Serialise with publishing and other migrations of this journey.
    Journey.objects.select_for_update().filter(pk=from_version.journey_id).first()
    old_steps = dict(Step.objects.filter(version=from_version).values_list("id", "name"))
    new_ids = set(Step.objects.filter(version=to_version).values_list("id", flat=True))
    bad = [k for k, v in mapping.items() if k not in old_steps or v not in new_ids]
    if bad:
        raise ValidationError(f"Steps {bad} are not steps of the two versions.")
    in_flight = Enrollment.objects.filter(version=from_version, state__in=Enrollment.IN_FLIGHT)

    def unmapped() -> dict[int | None, int]:
        return dict(
            in_flight.exclude(step_id__in=list(mapping))
            .order_by()
            .values("step_id")
            .annotate(n=Count("id"))
            .values_list("step_id", "n")
        )

    def refuse(left: dict[int | None, int]) -> ValidationError:
        where = ", ".join(
            f"{old_steps.get(step_id) or step_id or 'no step'} ({n})" for step_id, n in left.items()
        )
        return ValidationError(
            f"Contacts are in flight at steps the mapping omits: {where}. Map every occupied step."
        )

    if left := unmapped():
        raise refuse(left)
    now = now or timezone.now()
    moved = 0
    for old, new in mapping.items():
        moved += in_flight.filter(step_id=old).update(
            claimed_by="",
            claimed_until=None,
            version=to_version,
            step_id=new,
            visit=F("visit") + 1,
            state=Enrollment.State.ACTIVE,
            due_at=now,
            step_entered_at=now,
            wait_reason=f"moved from v{from_version.number}",
        )
    # A tick that committed meanwhile may have moved someone to an unmapped step: undo everything.
    if left := unmapped():
        raise refuse(left)
    return moved


def entry_step(*, version: JourneyVersion | None) -> Step | None:
    if version is None:
        return None
    return Step.objects.filter(version=version, kind="entry").first()


def journey_schedule_sync(*, journey: Journey) -> None:
    """Create, update, disable or remove the journey's entry PeriodicTask to match its state."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

    name = _task_name(journey)
    step = entry_step(version=journey.current_version)
    if journey.status == Journey.Status.ARCHIVED or step is None:
        PeriodicTask.objects.filter(name=name).delete()
        PeriodicTasks.update_changed()
        return
    config = step.config
    defaults: dict = {
        "task": ENTRY_TASK,
        "args": json.dumps([journey.pk]),
        "enabled": journey.status == Journey.Status.ACTIVE,
        "start_time": parse_datetime(config["start_at"]) if config.get("start_at") else None,
        "expires": parse_datetime(config["end_at"]) if config.get("end_at") else None,
        "description": f"Entry of journey {journey.name} (managed by the journey; edit the journey).",
    }
    if config.get("crontab"):
        minute, hour, day_of_month, month_of_year, day_of_week = config["crontab"].split()
        defaults["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
        defaults["interval"] = None
    else:
        defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
            every=int(config["every"]), period=config["period"]
        )
        defaults["crontab"] = None
    PeriodicTask.objects.update_or_create(name=name, defaults=defaults)
    PeriodicTasks.update_changed()
