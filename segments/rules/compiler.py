"""Compiling a rule tree (groups and conditions) to ONE Q filter over Contact."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from segments.rules.fields import FIELDS
from segments.rules.validation import MAX_DEPTH, RuleError, _Invalid


@dataclass
class _Context:
    now: dt.datetime
    seen_segments: frozenset[int]
    depth: int = 0
    # When only these contacts will be asked about (a contact page, segment_contains), grouped subqueries
    # are narrowed to them instead of aggregating every contact's orders.
    contact_ids: tuple[int, ...] | None = None


def _compile_node(node: Any, ctx: _Context, errors: list[tuple[str, str]], path: str) -> Q:
    if ctx.depth > MAX_DEPTH:
        errors.append((path, f"rules are nested deeper than {MAX_DEPTH} levels"))
        return Q()
    if not isinstance(node, dict):
        errors.append((path, f"expected a group or a condition (an object), got {node!r}"))
        return Q()
    if not node:
        return Q()  # empty tree: everyone
    if "op" in node:
        return _compile_group(node, ctx, errors, path)
    if "field" in node:
        return _compile_condition(node, ctx, errors, path)
    errors.append((path, 'expected "op" (and/or/not) with "rules", or "field" with "operator"'))
    return Q()


def _compile_group(node: dict, ctx: _Context, errors: list[tuple[str, str]], path: str) -> Q:
    op, rules = node.get("op"), node.get("rules")
    if op not in ("and", "or", "not"):
        errors.append((_join(path, "op"), f"unknown group operator {op!r}; use and, or, not"))
        return Q()
    if not isinstance(rules, list):
        errors.append((_join(path, "rules"), "expected a list of rules"))
        return Q()
    if op == "not" and len(rules) != 1:
        errors.append((_join(path, "rules"), f'"not" takes exactly one rule, got {len(rules)}'))
        return Q()
    inner = _Context(
        now=ctx.now, seen_segments=ctx.seen_segments, depth=ctx.depth + 1, contact_ids=ctx.contact_ids
    )
    parts = [
        _compile_node(rule, inner, errors, f"{_join(path, 'rules')}[{i}]") for i, rule in enumerate(rules)
    ]
    if op == "not":
        return ~parts[0] if parts[0] else Q(pk__in=[])
    if op == "and":
        combined = Q()
        for part in parts:
            combined &= part
        return combined
    if not parts:
        return Q(pk__in=[])  # an empty OR matches nobody
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part if (combined and part) else Q()
    return combined


def _compile_condition(node: dict, ctx: _Context, errors: list[tuple[str, str]], path: str) -> Q:
    name, op = node.get("field"), node.get("operator")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        errors.append((_join(path, "field"), f"unknown field {name!r}"))
        return Q()
    if op not in spec.operators:
        errors.append(
            (
                _join(path, "operator"),
                f"operator {op!r} is not valid for {name}; use one of {', '.join(spec.operators)}",
            )
        )
        return Q()
    try:
        return spec.compile(node, ctx)
    except _Invalid as exc:
        errors.append((_join(path, exc.key or "value"), exc.message))
        return Q()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def rules_compile(
    tree: Any,
    *,
    now: dt.datetime | None = None,
    segment_id: int | None = None,
    contact_ids: Iterable[int] | None = None,
) -> Q:
    """The Q filter of a rule tree over Contact; raises RuleError listing every problem found.

    `contact_ids`: the filter will only be asked about these contacts (it does not restrict to them by
    itself, callers still filter on pk); lets grouped subqueries skip everyone else's orders.
    """
    ctx = _Context(
        now=now or timezone.now(),
        seen_segments=frozenset({segment_id} if segment_id else ()),
        contact_ids=tuple(contact_ids) if contact_ids is not None else None,
    )
    errors: list[tuple[str, str]] = []
    q = _compile_node(tree if tree is not None else {}, ctx, errors, "")
    if errors:
        raise RuleError(errors)
    return q


def rules_errors(tree: Any, *, segment_id: int | None = None) -> list[tuple[str, str]]:
    try:
        rules_compile(tree, segment_id=segment_id)
    except RuleError as exc:
        return exc.errors
    return []
