"""Reads for the visual editor: the draft graph as the canvas draws it, live counts, the contacts
behind a count, "what changes" against the running version and "who would enter now"."""

from __future__ import annotations

import json
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from journeys.editor.problems import draft_problems
from journeys.models import Edge, Enrollment, Journey, Step, StepRun
from journeys.services.editing import draft_etag
from journeys.services.entry import entry_filter
from journeys.steps import registry
from journeys.steps.base import REFERENCES, Names, duration_human, step_names_fetch
from journeys.steps.wait import WEEKDAYS

GROUPS = [
    ("entry", "Entry", ("entry",)),
    ("conditions", "Conditions", ("in_segment", "has_purchased", "engagement", "attribute_split")),
    ("actions", "Actions", ("assign_coupon", "update_contact", "audience_add", "contact_data")),
    ("messages", "Messages", ("send_email", "send_sms", "send_push", "survey")),
    ("flow", "Flow", ("wait", "ab_split", "end")),
]
GROUP_OF = {kind: group for group, _label, kinds in GROUPS for kind in kinds}


def palette() -> list[dict]:
    """Every kind of the registry, grouped (kinds added by settings land in 'actions')."""
    groups = {key: {"key": key, "label": label, "kinds": []} for key, label, _kinds in GROUPS}
    for kind, step_kind in registry.items():
        groups[GROUP_OF.get(kind, "actions")]["kinds"].append({"kind": kind, "label": step_kind.label})
    return [g for g in groups.values() if g["kinds"]]


def _every(config: dict) -> str:
    if config.get("crontab"):
        from cron_descriptor import ExpressionDescriptor, Options

        options = Options()
        options.use_24hour_time_format = True
        try:
            text = ExpressionDescriptor(config["crontab"], options).get_description()
            return text[:1].lower() + text[1:]
        except Exception:  # noqa: BLE001 - a malformed draft value: show it as it is
            return f"cron {config['crontab']}"
    every, period = int(config.get("every") or 0), str(config.get("period") or "days")
    return f"every {period[:-1]}" if every == 1 else f"every {every} {period}"


def _named(config: dict, key: str, names: Names) -> str:
    """“Low CLV”, or what is wrong with the reference."""
    word = REFERENCES[key][2]
    try:
        name = names.get(key, {}).get(int(config.get(key)))
    except (TypeError, ValueError):
        return f"no {word} picked"
    return f"“{name}”" if name is not None else f"a deleted {word}"


def step_summary(step: Step, names: Names, message_steps: dict[str, str]) -> str:
    """One line in words, names instead of ids ("Is in segment “Low CLV”", "Wait 7 days")."""
    config = step.config or {}
    kind = registry.get(step.kind)
    if kind is None:
        return f"unknown kind {step.kind}"
    if not config and step.kind not in ("end", "contact_data"):
        return "Not set up yet"
    try:
        if step.kind == "entry":
            return f"Contacts of {_named(config, 'segment_id', names)}, {_every(config)}"
        if step.kind == "engagement":
            target = message_steps.get(config.get("step_key"), "a deleted step")
            return f"Did they {'open' if config.get('event') == 'opened' else 'click'} “{target}”?"
        if step.kind == "in_segment":
            return f"Is in segment {_named(config, 'segment_id', names)}?"
        if step.kind == "wait":
            if config.get("mode") == "weekday_time":
                return f"Wait until {WEEKDAYS[int(config['weekday'])].title()} {config['time']}"
            if config.get("mode") == "date":
                return f"Wait until {config.get('at', '')[:16].replace('T', ' ')}"
            seconds = int(config.get("seconds") or 0) or sum(
                int(config.get(unit) or 0) * size
                for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60))
            )
            return f"Wait {duration_human(seconds)}" if seconds else "Wait: no duration yet"
        if step.kind in ("send_email", "send_sms", "send_push"):
            return f"Send {_named(config, 'template_id', names)}"
        if step.kind == "assign_coupon":
            return f"Give a code from {_named(config, 'pool_id', names)}"
        if step.kind == "audience_add":
            return f"Add to audience {_named(config, 'export_id', names)}"
        if step.kind == "survey":
            return f"Survey {_named(config, 'survey_id', names)} by {_named(config, 'template_id', names)}"
        if step.kind == "update_contact":
            action = config.get("action")
            if action == "set_attribute":
                return f"Set {config.get('attribute')} to {config.get('value')!r}"
            if action in ("add_tag", "remove_tag"):
                return f"{'Add' if action == 'add_tag' else 'Remove'} tag “{config.get('tag')}”"
            return f"{'Give' if config.get('value') else 'Withdraw'} {config.get('channel')} consent"
        if step.kind == "has_purchased":
            window = (
                "since entering" if config.get("since_entry") else f"in the last {config.get('days')} days"
            )
            more_than = int(config.get("more_than") or 0)
            what = "anything" if more_than == 0 else f"more than {more_than} orders"
            return f"Bought {what} {window}?"
        if step.kind == "contact_data":
            return "Delete the contact" if config.get("mode") == "delete" else "Anonymize the contact"
        if step.kind == "end":
            return "The journey ends here"
        return kind.describe(config, names)
    except (KeyError, TypeError, ValueError, IndexError):
        return "Not set up correctly"


def _branches(step: Step) -> list[str]:
    kind = registry.get(step.kind)
    if kind is None:
        return []
    try:
        return list(kind.branches(step.config or {}))
    except (KeyError, TypeError, AttributeError):
        return []


def _shape(steps: list[Step], edges: list[Edge]) -> tuple:
    """What publishing would change (positions aside): steps by key, edges by keys."""
    key_of = {s.id: s.key for s in steps}
    return (
        sorted((s.key, s.kind, s.name, json.dumps(s.config, sort_keys=True, default=str)) for s in steps),
        sorted((key_of.get(e.from_step_id), e.branch, key_of.get(e.to_step_id)) for e in edges),
    )


def editor_graph(*, journey: Journey) -> dict:
    """The draft graph for the canvas: steps with summaries, branches and problems; edges by keys."""
    steps = list(Step.objects.filter(journey=journey, version=None).order_by("id"))
    edges = list(Edge.objects.filter(journey=journey, version=None).order_by("id"))
    names = step_names_fetch(s.config for s in steps)
    by_id = {s.id: s for s in steps}
    message_steps = {s.key: s.name for s in steps if getattr(registry.get(s.kind), "is_message", False)}
    problems = draft_problems(journey=journey, steps=steps, edges=edges)
    unpublished = journey.current_version_id is None or _shape(steps, edges) != _shape(
        list(Step.objects.filter(version_id=journey.current_version_id)),
        list(Edge.objects.filter(version_id=journey.current_version_id)),
    )
    per_step: dict[str, list[dict]] = {}
    for problem in problems:
        per_step.setdefault(problem.step_key, []).append(problem.as_dict())
    return {
        "etag": draft_etag(journey=journey),
        "journey": {
            "id": journey.pk,
            "name": journey.name,
            "status": journey.status,
            "status_label": journey.get_status_display(),
            "version": journey.current_version.number if journey.current_version_id else None,
            "unpublished": unpublished,
        },
        "steps": [
            {
                "id": s.id,
                "key": s.key,
                "kind": s.kind,
                "label": registry[s.kind].label if s.kind in registry else s.kind,
                "group": GROUP_OF.get(s.kind, "actions"),
                "name": s.name,
                "summary": step_summary(s, names, message_steps),
                "config": s.config,
                "x": s.x,
                "y": s.y,
                "inputs": 0 if s.kind == "entry" else 1,
                "branches": _branches(s),
                "problems": per_step.get(s.key, []),
            }
            for s in steps
        ],
        "edges": [
            {"from": by_id[e.from_step_id].key, "branch": e.branch, "to": by_id[e.to_step_id].key}
            for e in edges
            if e.from_step_id in by_id and e.to_step_id in by_id
        ],
        "problems": [p.as_dict() for p in problems],
    }


def live_counts(*, journey: Journey) -> dict:
    """Per step key: waiting now, passed, messages sent/opened/clicked; per "key|branch": how many
    took that edge. Four grouped queries whatever the number of steps, versions or contacts."""
    from messaging.selectors import messages_stats_by_step

    key_of = dict(Step.objects.filter(journey=journey, version__isnull=False).values_list("id", "key"))
    nodes: dict[str, dict[str, int]] = {}

    def node(step_id) -> dict[str, int] | None:
        key = key_of.get(step_id)
        if key is None:
            return None
        return nodes.setdefault(key, {"waiting": 0, "passed": 0, "sent": 0, "opened": 0, "clicked": 0})

    waiting = (
        Enrollment.objects.filter(journey=journey, state__in=Enrollment.IN_FLIGHT)
        .order_by()
        .values("step_id")
        .annotate(n=Count("id"))
        .values_list("step_id", "n")
    )
    for step_id, n in waiting:
        if (row := node(step_id)) is not None:
            row["waiting"] += n
    edges: dict[str, int] = {}
    runs = (
        StepRun.objects.filter(journey_id=journey.pk)
        .order_by()
        .values("step_id", "branch")
        .annotate(n=Count("id"))
        .values_list("step_id", "branch", "n")
    )
    for step_id, branch, n in runs:
        if (row := node(step_id)) is not None:
            row["passed"] += n
            if branch:
                edge_key = f"{key_of[step_id]}|{branch}"
                edges[edge_key] = edges.get(edge_key, 0) + n
    for step_id, stats in messages_stats_by_step(journey_id=journey.pk).items():
        if (row := node(step_id)) is not None:
            row["sent"] += stats.get("sent", 0)
            row["opened"] += stats.get("opened", 0)
            row["clicked"] += stats.get("clicked", 0)
    return {"nodes": nodes, "edges": edges, "at": timezone.now().isoformat()}


def count_contacts(*, journey: Journey, key: str, what: str, limit: int = 50) -> list[dict]:
    """The contacts behind a count on the canvas (the latest first), each with its enrollment."""
    if what == "waiting":
        rows = (
            Enrollment.objects.filter(
                journey=journey, state__in=Enrollment.IN_FLIGHT, step__key=key, step__version__isnull=False
            )
            .select_related("contact")
            .order_by("-step_entered_at")[:limit]
        )
        return [
            {"enrollment_id": e.pk, "contact": e.contact, "when": e.step_entered_at, "detail": e.wait_reason}
            for e in rows
        ]
    runs = StepRun.objects.filter(journey_id=journey.pk, step__key=key, step__version__isnull=False)
    if what.startswith("branch:"):
        runs = runs.filter(branch=what.removeprefix("branch:"))
    rows = runs.select_related("enrollment__contact").order_by("-ran_at")[:limit]
    return [
        {
            "enrollment_id": r.enrollment_id,
            "contact": r.enrollment.contact,
            "when": r.ran_at,
            "detail": " ".join(x for x in (r.branch, r.outcome, r.detail) if x),
        }
        for r in rows
    ]


def draft_changes(*, journey: Journey) -> dict:
    """The draft against the running version, by step key: added, removed, changed (which fields)."""
    if journey.current_version_id is None:
        return {"version": None, "added": [], "removed": [], "changed": []}
    draft = list(Step.objects.filter(journey=journey, version=None))
    live = list(Step.objects.filter(version_id=journey.current_version_id))
    steps = draft + live
    names = step_names_fetch(s.config for s in steps)
    message_steps = {s.key: s.name for s in steps if getattr(registry.get(s.kind), "is_message", False)}
    edges: dict[int | None, dict[str, set]] = {None: {}, journey.current_version_id: {}}
    key_of = {s.id: s.key for s in steps}
    for edge in Edge.objects.filter(
        Q(version=None) | Q(version_id=journey.current_version_id), journey=journey
    ):
        edges[edge.version_id].setdefault(key_of.get(edge.from_step_id), set()).add(
            (edge.branch, key_of.get(edge.to_step_id))
        )
    name_of = {s.key: s.name for s in draft} | {
        s.key: s.name for s in live if s.key not in {d.key for d in draft}
    }
    before, after = {s.key: s for s in live}, {s.key: s for s in draft}
    changed = []
    for key in after.keys() & before.keys():
        old, new = before[key], after[key]
        fields = []
        if old.name != new.name:
            fields.append(("name", old.name, new.name))
        if old.kind != new.kind or old.config != new.config:
            fields.append(
                ("settings", step_summary(old, names, message_steps), step_summary(new, names, message_steps))
            )
        old_out = edges[journey.current_version_id].get(key, set())
        new_out = edges[None].get(key, set())
        if old_out != new_out:

            def words(out):
                return ", ".join(f"{b} → {name_of.get(t, '?')}" for b, t in sorted(out)) or "nowhere"

            fields.append(("connections", words(old_out), words(new_out)))
        if fields:
            changed.append(
                {
                    "name": new.name,
                    "kind": registry[new.kind].label if new.kind in registry else new.kind,
                    "fields": fields,
                }
            )
    return {
        "version": journey.current_version.number,
        "added": [
            {"name": s.name, "summary": step_summary(s, names, message_steps)}
            for k, s in after.items()
            if k not in before
        ],
        "removed": [
            {"name": s.name, "summary": step_summary(s, names, message_steps)}
            for k, s in before.items()
            if k not in after
        ],
        "changed": changed,
    }


def entry_dry_run(*, journey: Journey, now: datetime | None = None, examples: int = 10) -> dict:
    """Who the draft's entry step would enroll now (count and examples). Writes nothing.

    The engine's own filters (journeys.services.entry.entry_filter: consent, in flight, re-entry,
    "only new"), read against the draft's entry configuration."""
    from segments.models import Segment
    from segments.rules import RuleError
    from segments.selectors import segment_contacts

    now = now or timezone.now()
    entry = Step.objects.filter(journey=journey, version=None, kind="entry").first()
    if entry is None:
        return {"error": "The journey has no entry step yet."}
    try:
        config = registry["entry"].validate(entry.config)
    except Exception:  # noqa: BLE001 - ValidationError: say so in words
        return {"error": "Set up the entry step first (segment and schedule)."}
    segment = Segment.objects.filter(pk=config["segment_id"]).first()
    if segment is None:
        return {"error": "The entry segment no longer exists."}
    try:
        candidates = segment_contacts(segment=segment).order_by()
    except RuleError as exc:
        return {"error": f"The segment “{segment}” cannot be evaluated: {exc}"}
    candidates = entry_filter(journey=journey, members=candidates, config=config, now=now)
    return {
        "segment": segment,
        "count": candidates.count(),
        "examples": list(candidates.order_by("id")[:examples]),
    }
