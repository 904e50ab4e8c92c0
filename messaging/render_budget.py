"""The render budget of messaging.sandbox: what one message may cost in characters and seconds.

The renderer counts what it writes while it writes it (each text, variable and tag output once,
however deeply nested), for all parts of a message together, and stops as soon as the message
passes MESSAGING_RENDER_MAX_BYTES or MESSAGING_RENDER_MAX_SECONDS. `worst_case_context()` is the
made-up contact templates are checked against when they are saved.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.template import Context
from django.template.base import Node, NodeList
from django.template.defaulttags import FilterNode
from django.utils.safestring import SafeString

__all__ = ["Budget", "RenderLimitExceeded", "instrument", "worst_case_context"]


class RenderLimitExceeded(Exception):
    """The template would take too long or too much memory to render (the message fails)."""


class Budget:
    """What one message may cost, shared by the renders of all its parts. Output is counted as it is
    produced, node by node (text, variables, tag output), so a render stops as soon as it passes the
    limit instead of building a huge string first."""

    __slots__ = ("iterations", "output", "written", "max_output", "deadline", "max_seconds")

    def __init__(self, *, max_output: int | None = None, max_seconds: float | None = None) -> None:
        self.iterations = 0
        self.output = 0  # loop output (nested loops count at each level)
        self.written = 0  # characters written by leaf nodes: the message's size
        self.max_output = max_output or settings.MESSAGING_RENDER_MAX_BYTES
        self.max_seconds = max_seconds or settings.MESSAGING_RENDER_MAX_SECONDS
        self.deadline = time.monotonic() + self.max_seconds

    def write(self, length: int) -> None:
        self.written += length
        if self.written > self.max_output:
            raise RenderLimitExceeded(
                f"the message would be longer than {self.max_output // 1024} KB "
                f"(MESSAGING_RENDER_MAX_BYTES); shorten the template"
            )
        self.tick()

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(
                f"rendering took longer than {self.max_seconds} s (MESSAGING_RENDER_MAX_SECONDS)"
            )


def _budget(context: Context) -> Budget:
    budget = getattr(context, "sandbox_budget", None)
    if budget is None:
        budget = context.sandbox_budget = Budget()
    return budget


def _is_leaf(node: Node) -> bool:
    """Nodes whose output is counted: those that write text themselves. Containers ({% if %},
    {% with %}, ...) only pass their children's output on; {% filter %} may change its length."""
    return (
        isinstance(node, FilterNode)
        or not any(isinstance(getattr(node, name, None), NodeList) for name in node.child_nodelists)
        and not hasattr(node, "conditions_nodelists")
    )


class BudgetNodeList(NodeList):
    """Django's NodeList whose render counts each written node against the message's budget."""

    def render(self, context):
        budget = _budget(context)
        parts = []
        for node in self:
            output = node.render_annotated(context)
            if getattr(node, "sandbox_leaf", True):
                budget.write(len(output))
            parts.append(output)
        return SafeString("".join(parts))


def instrument(nodelist: NodeList, seen: set[int] | None = None) -> None:
    """Swap every NodeList in a compiled template for a BudgetNodeList and mark the leaf nodes."""
    seen = set() if seen is None else seen
    if id(nodelist) in seen:
        return
    seen.add(id(nodelist))
    nodelist.__class__ = BudgetNodeList
    for node in nodelist:
        node.sandbox_leaf = _is_leaf(node)
        children = [getattr(node, name, None) for name in node.child_nodelists]
        children += [nodes for _condition, nodes in getattr(node, "conditions_nodelists", [])]
        for child in children:
            if isinstance(child, NodeList):
                instrument(child, seen)


def worst_case_context() -> dict[str, Any]:
    """A made-up contact whose every text field is as long as the database allows, with the most
    products a message gets: what a template costs at most for ordinary data."""
    from contacts.models import Contact
    from messaging.sandbox import CONTACT_FIELDS, PRODUCT_FIELDS

    def longest(model, name: str, fill: str = "x") -> str:
        return fill * (model._meta.get_field(name).max_length or 100)

    contact = {name: longest(Contact, name) for name in CONTACT_FIELDS if name not in _NOT_TEXT}
    contact["email"] = "a" * 242 + "@example.com"
    contact["full_name"] = f"{contact['first_name']} {contact['last_name']}"
    contact["attributes"] = {
        "referral_successful_count": 99,
        "referral_share_link": "https://example.com/r/x",
    }
    product = dict.fromkeys(PRODUCT_FIELDS, "x" * 255)
    products = [dict(product, id=n) for n in range(WORST_CASE_PRODUCTS)]
    return {
        "contact": contact,
        "coupon": {"code": "C" * 64, "expires_at": "2099-12-31"},
        "recommendations": products,
        "bought_again": products,
        "new_arrivals": products,
        "best_sellers": products,
        "unsubscribe_url": "https://example.com/m/u/" + "t" * 200,
        "preferences_url": "https://example.com/m/p/" + "t" * 200,
        "site_url": "https://example.com",
        "today": "2099-12-31",
        "message": {"id": 2**31, "channel": "email"},
    }


_NOT_TEXT = {"signed_up_at", "last_activity_at", "attributes", "full_name"}
WORST_CASE_PRODUCTS = 4  # recommendations_for_contacts(limit=4)
