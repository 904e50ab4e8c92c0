"""Segment rule trees: validation and compilation to ONE queryset filter (a Q object).

A tree is a group or a condition:

    {"op": "and" | "or", "rules": [node, ...]}
    {"op": "not", "rules": [node]}
    {"field": "rfm_segment", "operator": "in", "value": ["Champions", "Loyal Customers"]}

Every condition compiles to a column lookup on contacts or to an EXISTS / correlated subquery, so the
whole tree is one SQL statement. Conditions are never NULL (a missing value makes a condition false and its
NOT true). Relative dates (``{"days_ago": 90}``, ``within_last_days``) are evaluated when compiled, i.e. at
run time. Tag names and custom attribute text compare case-insensitively. Models of other apps are imported
lazily inside the compiler.

The package, by concern:
    validation.py      RuleError and the readers that check a condition's values
    operators.py       operator sets per kind of field, their labels and value shapes
    contact_fields.py, score_fields.py, activity_fields.py   one compiler per condition
    fields.py          FIELDS, the field catalogue (FieldSpec)
    compiler.py        rules_compile(), rules_errors(): groups and conditions to one Q
    contact_rows.py    ContactRows: EXISTS of a contact's tag/event rows that knows their contact ids
    counting.py        rules_counted(): the cheapest query whose count() is the rule's number of contacts
    examples.py        EXAMPLES, one ready-to-edit condition per field
    catalogue.py       rule_catalogue(), rule_choices(): what a segment builder renders
"""

from segments.rules.catalogue import CHOICE_SOURCES, rule_catalogue, rule_choices
from segments.rules.compiler import rules_compile, rules_errors
from segments.rules.counting import rules_counted
from segments.rules.examples import EXAMPLES
from segments.rules.fields import FIELDS, FieldSpec
from segments.rules.operators import CHOICE_OPS, COUNT_OPS, DATE_OPS, NUMBER_OPS, OPERATORS, TEXT_OPS
from segments.rules.validation import MAX_DEPTH, RuleError

__all__ = [
    "CHOICE_OPS",
    "CHOICE_SOURCES",
    "COUNT_OPS",
    "DATE_OPS",
    "EXAMPLES",
    "FIELDS",
    "MAX_DEPTH",
    "NUMBER_OPS",
    "OPERATORS",
    "TEXT_OPS",
    "FieldSpec",
    "RuleError",
    "rule_catalogue",
    "rule_choices",
    "rules_compile",
    "rules_counted",
    "rules_errors",
]
