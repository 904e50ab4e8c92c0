"""What is wrong with a draft, per step, in a marketer's words: shown live on the canvas and before
publishing. Errors block publishing; warnings can be confirmed.

The configuration checks are the step kinds' own validate() (what publishing and the engine use);
journey_graph_validate() runs again inside journey_publish, so the editor can never publish a graph
the engine would refuse.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, replace

from django.core.exceptions import ValidationError

from journeys.models import Edge, Journey, Step
from journeys.steps import registry
from journeys.steps.base import REFERENCES

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Problem:
    level: str
    message: str
    step_key: str = ""
    step_name: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


# (kind, config key) -> what the marketer should do, for the messages validate() words for developers.
FRIENDLY = {
    ("entry", "every"): "The entry has no schedule: set when it runs.",
    ("entry", "period"): "The entry has no schedule: set when it runs.",
    ("entry", "crontab"): "The entry's crontab is not valid: fix when it runs.",
    ("wait", "days"): "A wait of zero: give it a duration.",
    ("engagement", "step_key"): "Pick the message step to check.",
}


def _config_messages(step: Step, exc: ValidationError) -> list[str]:
    if not step.config:
        return ["Not set up yet: click the step and fill in its form."]
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    messages = []
    for key, errors in exc.message_dict.items():
        word = REFERENCES.get(key, (None, None, None))[2]
        if (step.kind, key) in FRIENDLY:
            messages.append(FRIENDLY[(step.kind, key)])
        elif word and step.config.get(key) not in (None, ""):
            messages.append(f"The {word} it uses no longer exists: pick another one.")
        elif word:
            messages.append(f"Pick a {word}.")
        else:
            messages.extend(errors)
    return messages


def draft_problems(
    *, journey: Journey, steps: list[Step] | None = None, edges: list | None = None
) -> list[Problem]:
    """Every problem of the draft graph (errors first)."""
    steps = steps if steps is not None else list(Step.objects.filter(journey=journey, version=None))
    edges = edges if edges is not None else list(Edge.objects.filter(journey=journey, version=None))
    problems: list[Problem] = []
    by_id = {s.id: s for s in steps}
    entries = [s for s in steps if s.kind == "entry"]
    if not entries:
        problems.append(
            Problem(ERROR, "The journey has no entry step: drag “Entry (segment)” onto the canvas.")
        )
    for extra in entries[1:]:
        problems.append(Problem(ERROR, "A journey has exactly one entry step: remove this one.", extra.key))
    cleaned: dict[int, dict] = {}
    for step in steps:
        kind = registry.get(step.kind)
        if kind is None:
            problems.append(Problem(ERROR, f"Unknown step kind {step.kind!r}.", step.key))
            continue
        try:
            cleaned[step.id] = kind.validate(step.config)
        except ValidationError as exc:
            problems.extend(Problem(ERROR, m, step.key) for m in _config_messages(step, exc))
    message_keys = {s.key for s in steps if getattr(registry.get(s.kind), "is_message", False)}
    for step in steps:
        if (
            step.kind == "engagement"
            and step.id in cleaned
            and cleaned[step.id]["step_key"] not in message_keys
        ):
            problems.append(Problem(ERROR, "Pick a message step of this journey to check.", step.key))
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for edge in edges:
        if edge.from_step_id in by_id and edge.to_step_id in by_id:
            out[edge.from_step_id][edge.branch] = edge.to_step_id
    if entries:
        reachable, frontier = {entries[0].id}, [entries[0].id]
        while frontier:
            for target in out[frontier.pop()].values():
                if target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
        for step in steps:
            if step.id not in reachable:
                problems.append(Problem(ERROR, "Nothing leads here: connect it or delete it.", step.key))
    for step in steps:
        kind = registry.get(step.kind)
        if kind is None or step.id not in cleaned:
            continue
        branches = kind.branches(cleaned[step.id])
        for branch in out[step.id]:
            if branch not in branches:
                problems.append(Problem(ERROR, f"It has no branch “{branch}” any more.", step.key))
        for branch in branches:
            if branch not in out[step.id] and step.kind != "end":
                problems.append(
                    Problem(
                        WARNING,
                        f"The “{branch}” branch leads nowhere: contacts there complete the journey.",
                        step.key,
                    )
                )
    problems.extend(_pool_problems(steps, cleaned))
    if journey.holdout_percent and not journey.conversion_window_days:
        for step in steps:
            if getattr(registry.get(step.kind), "is_message", False):
                problems.append(
                    Problem(
                        WARNING,
                        "The journey holds out contacts but has no conversion goal: the holdout measures "
                        "nothing (set a conversion window in the journey settings).",
                        step.key,
                    )
                )
                break
    problems.sort(key=lambda p: p.level != ERROR)
    names = {s.key: s.name or s.kind for s in steps}
    return [replace(p, step_name=names.get(p.step_key, "")) for p in problems]


def _pool_problems(steps: list[Step], cleaned: dict[int, dict]) -> list[Problem]:
    from coupons.models import CouponPool
    from coupons.selectors import pools_with_stats

    wanted = {cleaned[s.id]["pool_id"]: s for s in steps if s.kind == "assign_coupon" and s.id in cleaned}
    if not wanted:
        return []
    problems = []
    for pool in pools_with_stats(CouponPool.objects.filter(pk__in=list(wanted))):
        step = wanted[pool.pk]
        if not pool.is_active:
            problems.append(
                Problem(ERROR, f"The pool “{pool.name}” is inactive: it hands out no codes.", step.key)
            )
        elif pool.available_codes <= 0:
            problems.append(
                Problem(
                    WARNING,
                    f"The pool “{pool.name}” has no codes left: everyone takes “exhausted”.",
                    step.key,
                )
            )
    return problems
