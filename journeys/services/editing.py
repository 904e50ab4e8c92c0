"""Editing the draft graph (version NULL) one change at a time: the visual editor's door for writes.

Every change locks the journey row, compares the editor's draft tag (a hash of the draft graph, see
draft_etag) with the current one and refuses with DraftConflict when another marketer (or the admin)
changed the draft meanwhile, so nobody silently overwrites anybody. Step configurations are checked
by the step kind's own validate(), the same function publishing and the engine rely on.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from journeys.models import Edge, Journey, Step
from journeys.steps import registry

POSITION_MAX = 100_000  # canvas pixels; positions are clamped to 0..POSITION_MAX


KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def position(value: object) -> int:
    """A canvas coordinate from user input, clamped to 0..POSITION_MAX (ValueError when not a number)."""
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError("Not a position.")
    return int(min(max(number, 0), POSITION_MAX))


class DraftConflict(Exception):
    """The draft changed since the editor loaded it: reload before editing."""


def draft_etag(*, journey: Journey) -> str:
    """A tag of the draft graph's content (two queries): changes whenever a step or edge changes."""
    steps = Step.objects.filter(journey=journey, version=None).order_by("id")
    edges = Edge.objects.filter(journey=journey, version=None).order_by("id")
    payload = [
        list(steps.values_list("id", "key", "kind", "name", "config", "x", "y")),
        list(edges.values_list("from_step_id", "branch", "to_step_id")),
    ]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _locked(journey: Journey, etag: str | None) -> Journey:
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status == Journey.Status.ARCHIVED:
        raise ValidationError("An archived journey cannot be edited.")
    if etag is not None and etag != draft_etag(journey=journey):
        raise DraftConflict("Someone else changed this journey meanwhile. Reload to see their changes.")
    return journey


def _touch(journey: Journey) -> None:
    Journey.objects.filter(pk=journey.pk).update(updated_at=timezone.now())


def _draft_step(journey: Journey, key: str) -> Step:
    step = Step.objects.filter(journey=journey, version=None, key=key).first()
    if step is None:
        raise ValidationError(f"The step {key} is not in the draft (deleted meanwhile?).")
    return step


@transaction.atomic
def step_add(*, journey: Journey, kind: str, x: int, y: int, etag: str | None) -> Step:
    """Add an unconfigured step of `kind` at (x, y); its form fills the configuration."""
    journey = _locked(journey, etag)
    step_kind = registry.get(kind)
    if step_kind is None:
        raise ValidationError(f"Unknown step kind {kind!r}.")
    taken = set(Step.objects.filter(journey=journey, version=None, kind=kind).values_list("name", flat=True))
    name, n = step_kind.label, 1
    while name in taken:
        n += 1
        name = f"{step_kind.label} {n}"
    step = Step.objects.create(journey=journey, kind=kind, name=name, config={}, x=position(x), y=position(y))
    _touch(journey)
    return step


@transaction.atomic
def step_move(*, journey: Journey, key: str, x: int, y: int, etag: str | None) -> Step:
    journey = _locked(journey, etag)
    step = _draft_step(journey, key)
    step.x, step.y = position(x), position(y)
    step.save(update_fields=["x", "y"])
    _touch(journey)
    return step


@transaction.atomic
def step_configure(*, journey: Journey, key: str, name: str, config: dict, etag: str | None) -> Step:
    """Save a step's name and configuration, cleaned by its kind (ValidationError: nothing saved).
    Edges along branches the new configuration no longer has (a removed A/B variant) are removed."""
    journey = _locked(journey, etag)
    step = _draft_step(journey, key)
    kind = registry[step.kind]
    step.config = kind.validate(config)
    step.name = (name or "").strip()[:150] or kind.label
    step.save(update_fields=["config", "name"])
    Edge.objects.filter(from_step=step).exclude(branch__in=kind.branches(step.config)).delete()
    _touch(journey)
    return step


@transaction.atomic
def step_remove(*, journey: Journey, key: str, etag: str | None) -> None:
    journey = _locked(journey, etag)
    _draft_step(journey, key).delete()  # its edges cascade
    _touch(journey)


@transaction.atomic
def edge_connect(*, journey: Journey, from_key: str, branch: str, to_key: str, etag: str | None) -> Edge:
    """Connect a step's branch to a step (replacing what that branch pointed at before)."""
    journey = _locked(journey, etag)
    source, target = _draft_step(journey, from_key), _draft_step(journey, to_key)
    kind = registry.get(source.kind)
    branches = kind.branches(source.config) if kind else []
    if branch not in branches:
        raise ValidationError(
            f"“{source.name}” has no branch {branch!r} (its branches: {', '.join(branches) or 'none'})."
        )
    if target.kind == "entry":
        raise ValidationError("Nothing can lead into the entry step: contacts enter there by schedule.")
    if target.pk == source.pk:
        raise ValidationError("A step cannot lead to itself.")
    edge, _ = Edge.objects.update_or_create(
        journey=journey, version=None, from_step=source, branch=branch, defaults={"to_step": target}
    )
    _touch(journey)
    return edge


@transaction.atomic
def edge_remove(*, journey: Journey, from_key: str, branch: str, etag: str | None) -> None:
    journey = _locked(journey, etag)
    Edge.objects.filter(from_step=_draft_step(journey, from_key), branch=branch).delete()
    _touch(journey)


@transaction.atomic
def draft_layout(*, journey: Journey, etag: str | None) -> None:
    """Tidy the graph left to right: a column per distance from the entry (breadth first), rows in
    branch order; steps nobody reaches go to a last column."""
    journey = _locked(journey, etag)
    steps = list(Step.objects.filter(journey=journey, version=None).order_by("y", "x", "id"))
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for edge in Edge.objects.filter(journey=journey, version=None).select_related("from_step"):
        kind = registry.get(edge.from_step.kind)
        order = kind.branches(edge.from_step.config) if kind else []
        rank = order.index(edge.branch) if edge.branch in order else len(order)
        out[edge.from_step_id].append((rank, edge.to_step_id))
    depth: dict[int, int] = {}
    frontier = [s.id for s in steps if s.kind == "entry"]
    for step_id in frontier:
        depth[step_id] = 0
    while frontier:
        following = []
        for step_id in frontier:
            for _rank, target in sorted(out[step_id]):
                if target not in depth:
                    depth[target] = depth[step_id] + 1
                    following.append(target)
        frontier = following
    last = max(depth.values(), default=-1) + 1
    rows: dict[int, int] = defaultdict(int)
    for step in steps:
        column = depth.get(step.id, last)
        # 220 px nodes, 100 px between columns: room for the line's label clear of the ports
        step.x, step.y = 30 + column * 320, 30 + rows[column] * 160
        rows[column] += 1
    Step.objects.bulk_update(steps, ["x", "y"])
    _touch(journey)


def draft_snapshot(*, journey: Journey) -> dict:
    """The draft as plain data keyed by step key (what undo/redo restores)."""
    steps = Step.objects.filter(journey=journey, version=None).order_by("id")
    edges = Edge.objects.filter(journey=journey, version=None).select_related("from_step", "to_step")
    return {
        "steps": [
            {"key": s.key, "kind": s.kind, "name": s.name, "config": s.config, "x": s.x, "y": s.y}
            for s in steps
        ],
        "edges": [{"from": e.from_step.key, "branch": e.branch, "to": e.to_step.key} for e in edges],
    }


@transaction.atomic
def draft_restore(*, journey: Journey, snapshot: dict, etag: str | None) -> None:
    """Make the draft equal to a snapshot taken earlier in the session (undo/redo). Steps keep their
    rows (and keys) where they still exist. Configurations are stored as the snapshot had them:
    they were saved through step_configure (or are empty), and publishing validates them again."""
    journey = _locked(journey, etag)
    try:
        wanted = {str(s["key"]): s for s in snapshot["steps"]}
        edges = [(str(e["from"]), str(e["branch"]), str(e["to"])) for e in snapshot["edges"]]
        for data in wanted.values():
            if (
                not KEY_RE.match(str(data["key"]))
                or data.get("kind") not in registry
                or not isinstance(data.get("config", {}), dict)
            ):
                raise ValidationError("Not a snapshot of this journey's draft.")
            data["x"], data["y"] = position(data.get("x", 0)), position(data.get("y", 0))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValidationError("Not a snapshot of this journey's draft.") from None
    current = {s.key: s for s in Step.objects.filter(journey=journey, version=None)}
    Step.objects.filter(pk__in=[s.pk for k, s in current.items() if k not in wanted]).delete()
    Edge.objects.filter(journey=journey, version=None).delete()
    for key, data in wanted.items():
        step = current.get(key) or Step(journey=journey, key=key)
        step.kind, step.name = data["kind"], str(data.get("name", ""))[:150]
        step.config, step.x, step.y = data.get("config") or {}, data["x"], data["y"]
        step.save()
        current[key] = step

    def allowed(a: str, b: str, c: str) -> bool:
        """The rules edge_connect applies: an existing branch, never into the entry, never to itself."""
        if a not in current or c not in current or a == c or current[c].kind == "entry":
            return False
        kind = registry.get(current[a].kind)
        try:
            return kind is not None and b in kind.branches(current[a].config)
        except (KeyError, TypeError, ValueError, AttributeError):
            return False

    Edge.objects.bulk_create(
        [
            Edge(journey=journey, from_step=current[a], branch=b, to_step=current[c])
            for a, b, c in edges
            if a in wanted and c in wanted and allowed(a, b, c)
        ],
        ignore_conflicts=True,
    )
    _touch(journey)
