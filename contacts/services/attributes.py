"""Limits on a contact's custom attributes: nesting depth and size (issue 12).

An attribute tree 900 levels deep was accepted, then the contact page and the template preview failed
with RecursionError. Every path that writes attributes (CSV/API import, admin form) checks these.
"""

from __future__ import annotations

import json
from typing import Any

ATTRIBUTES_MAX_DEPTH = 5  # {"a": {"b": 1}} is depth 2
ATTRIBUTES_MAX_BYTES = 64 * 1024  # as JSON, UTF-8


def attributes_depth(value: Any) -> int:
    """Nesting depth of dicts/lists, without recursion (a hostile tree cannot overflow the stack)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > ATTRIBUTES_MAX_DEPTH:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def attributes_check(value: Any) -> None:
    """ValueError with a clear message when `value` (the whole attributes object) is too deep or big."""
    depth = attributes_depth(value)
    if depth > ATTRIBUTES_MAX_DEPTH:
        raise ValueError(
            f"Attributes are nested too deeply (more than {ATTRIBUTES_MAX_DEPTH} levels of objects/lists)."
        )
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > ATTRIBUTES_MAX_BYTES:
        raise ValueError(
            f"Attributes are too large ({size:,} bytes as JSON; at most {ATTRIBUTES_MAX_BYTES:,})."
        )
