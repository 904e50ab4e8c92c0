"""The field catalogue: every condition a rule can use, with its operators and compiler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q

from segments.rules.activity_fields import (
    _bought,
    _compile_coupon,
    _compile_journey,
    _compile_last_purchase,
    _compile_message,
    _compile_purchase_amount,
    _compile_purchase_count,
    _compile_segment,
    _event,
)
from segments.rules.contact_fields import (
    _bool_column,
    _choice_column,
    _compile_attribute,
    _compile_reachable,
    _compile_tags,
    _contact_statuses,
    _date_column,
    _text_column,
)
from segments.rules.operators import CHOICE_OPS, COUNT_OPS, DATE_OPS, NUMBER_OPS, TEXT_OPS
from segments.rules.score_fields import (
    _cluster_names,
    _compile_transition,
    _compile_value_on_date,
    _rfm_segment_names,
    _score_choice,
    _score_number,
    _stage_names,
)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    group: str
    operators: tuple[str, ...]
    compile: Callable[..., Q]
    hint: str = ""
    params: tuple[str, ...] = field(default=())
    # For a rule builder: the kind of value widget (see rule_catalogue) and where its choices come from
    # (a source name rule_choices() answers, e.g. "rfm_segments", "tags"; "" when the value is free).
    value_type: str = ""
    choices: str = ""

    def __post_init__(self) -> None:
        if not self.value_type:
            object.__setattr__(self, "value_type", _DEFAULT_TYPES.get(self.operators, "text"))


_DEFAULT_TYPES = {
    NUMBER_OPS: "number",
    TEXT_OPS: "text",
    CHOICE_OPS: "choice",
    DATE_OPS: "date",
    COUNT_OPS: "number",
    ("is",): "bool",
}


_PERIOD = 'optional "period": {"last_days": N} or {"between": ["YYYY-MM-DD", "YYYY-MM-DD"]}'

FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in [
        FieldSpec("email", "Email", "Contact", TEXT_OPS, _text_column("email", True)),
        FieldSpec("first_name", "First name", "Contact", TEXT_OPS, _text_column("first_name", False)),
        FieldSpec("last_name", "Last name", "Contact", TEXT_OPS, _text_column("last_name", False)),
        FieldSpec("country", "Country (ISO code)", "Contact", TEXT_OPS, _text_column("country", False)),
        FieldSpec("locale", "Locale", "Contact", TEXT_OPS, _text_column("locale", False)),
        FieldSpec(
            "status",
            "Status",
            "Contact",
            CHOICE_OPS,
            _choice_column("status", _contact_statuses),
            choices="contact_statuses",
        ),
        FieldSpec(
            "email_consent", "Email consent", "Consent", ("is",), _bool_column("email_consent"), "true/false"
        ),
        FieldSpec(
            "sms_consent", "SMS consent", "Consent", ("is",), _bool_column("sms_consent"), "true/false"
        ),
        FieldSpec(
            "push_consent", "Push consent", "Consent", ("is",), _bool_column("push_consent"), "true/false"
        ),
        FieldSpec(
            "reachable",
            "Can receive on channel",
            "Consent",
            ("is", "is_not"),
            _compile_reachable,
            'value "email", "sms" or "push": status active and consent given',
            value_type="choice",
            choices="channels",
        ),
        FieldSpec("signed_up_at", "Signed up", "Contact", DATE_OPS, _date_column("signed_up_at")),
        FieldSpec("created_at", "Created", "Contact", DATE_OPS, _date_column("created_at")),
        FieldSpec(
            "last_activity_at", "Last site activity", "Contact", DATE_OPS, _date_column("last_activity_at")
        ),
        FieldSpec(
            "tags",
            "Tags",
            "Contact",
            ("has_any", "has_all", "has_none"),
            _compile_tags,
            "list of tag names",
            value_type="list",
            choices="tags",
        ),
        FieldSpec(
            "attribute",
            "Custom attribute",
            "Contact",
            ("eq", "ne", "contains", "gt", "gte", "lt", "lte", "exists", "not_exists"),
            _compile_attribute,
            '"key": attribute name; numbers compare numerically',
            ("key",),
            value_type="attribute",
            choices="attribute_keys",
        ),
        FieldSpec(
            "rfm_segment",
            "RFM segment",
            "Scores",
            CHOICE_OPS,
            _score_choice("rfm_segment", _rfm_segment_names),
            choices="rfm_segments",
        ),
        FieldSpec("r_score", "R score (1-5)", "Scores", NUMBER_OPS, _score_number("r_score")),
        FieldSpec("f_score", "F score (1-5)", "Scores", NUMBER_OPS, _score_number("f_score")),
        FieldSpec("m_score", "M score (1-5)", "Scores", NUMBER_OPS, _score_number("m_score")),
        FieldSpec(
            "lifecycle_stage",
            "Lifecycle stage",
            "Scores",
            CHOICE_OPS,
            _score_choice("lifecycle_stage", _stage_names, missing_means="never"),
            "contacts not scored yet count as never purchased",
            choices="lifecycle_stages",
        ),
        FieldSpec(
            "clv_cluster",
            "Value cluster",
            "Scores",
            CHOICE_OPS,
            _score_choice("clv_cluster", _cluster_names),
            choices="value_clusters",
        ),
        FieldSpec(
            "predicted_clv",
            "Predicted CLV",
            "Scores",
            NUMBER_OPS,
            _score_number("predicted_clv"),
            value_type="amount",
        ),
        FieldSpec("p_alive", "P(alive)", "Scores", NUMBER_OPS, _score_number("p_alive")),
        FieldSpec(
            "expected_purchases",
            "Expected purchases (horizon)",
            "Scores",
            NUMBER_OPS,
            _score_number("expected_purchases"),
        ),
        FieldSpec(
            "frequency",
            "Purchases (at last scoring)",
            "Scores",
            NUMBER_OPS,
            _score_number("frequency"),
            value_type="count",
        ),
        FieldSpec(
            "monetary_total",
            "Total spent (at last scoring)",
            "Scores",
            NUMBER_OPS,
            _score_number("monetary_total"),
            value_type="amount",
        ),
        FieldSpec(
            "recency_days",
            "Days since last purchase (at last scoring)",
            "Scores",
            NUMBER_OPS,
            _score_number("recency_days"),
            value_type="count",
        ),
        FieldSpec(
            "score_transition",
            "Changed segment / stage / cluster",
            "History",
            ("changed", "not_changed"),
            _compile_transition,
            '"attribute": segment|stage|cluster, optional "from", "to", ' + _PERIOD,
            ("attribute", "from", "to", "period"),
            value_type="history",
            choices="score_attributes",
        ),
        FieldSpec(
            "score_on_date",
            "Segment / stage / cluster on a date",
            "History",
            ("eq", "ne"),
            _compile_value_on_date,
            '"attribute": segment|stage|cluster, "date": "YYYY-MM-DD" or {"days_ago": N}',
            ("attribute", "date"),
            value_type="history",
            choices="score_attributes",
        ),
        FieldSpec(
            "purchase_count",
            "Number of purchases",
            "Purchases",
            COUNT_OPS,
            _compile_purchase_count,
            _PERIOD,
            ("period",),
            value_type="count",
        ),
        FieldSpec(
            "purchase_amount",
            "Amount spent",
            "Purchases",
            COUNT_OPS,
            _compile_purchase_amount,
            _PERIOD,
            ("period",),
            value_type="amount",
        ),
        FieldSpec("last_purchase", "Last purchase date", "Purchases", DATE_OPS, _compile_last_purchase),
        FieldSpec(
            "bought_product",
            "Bought product (SKU)",
            "Purchases",
            ("any", "none"),
            _bought(("sku", "product__sku")),
            "list of SKUs; " + _PERIOD,
            ("period",),
            value_type="list",
            choices="products",
        ),
        FieldSpec(
            "bought_category",
            "Bought from category",
            "Purchases",
            ("any", "none"),
            _bought(("product__category",)),
            "list of categories; " + _PERIOD,
            ("period",),
            value_type="list",
            choices="categories",
        ),
        FieldSpec(
            "bought_brand",
            "Bought brand",
            "Purchases",
            ("any", "none"),
            _bought(("product__brand",)),
            "list of brands; " + _PERIOD,
            ("period",),
            value_type="list",
            choices="brands",
        ),
        FieldSpec(
            "email_opened",
            "Opened an email",
            "Engagement",
            ("within_last_days", "not_within_last_days"),
            _event("email_open"),
            'value: days; optional "message_id"',
            ("message_id",),
            value_type="days",
        ),
        FieldSpec(
            "email_clicked",
            "Clicked in an email",
            "Engagement",
            ("within_last_days", "not_within_last_days"),
            _event("email_click"),
            'value: days; optional "message_id"',
            ("message_id",),
            value_type="days",
        ),
        FieldSpec(
            "site_visited",
            "Visited the site",
            "Engagement",
            ("within_last_days", "not_within_last_days"),
            _event("site_visit"),
            "value: days",
            value_type="days",
        ),
        FieldSpec(
            "event",
            "Any event kind",
            "Engagement",
            ("within_last_days", "not_within_last_days"),
            _event(None),
            '"kind": event kind; value: days; optional "message_id"',
            ("kind", "message_id"),
            value_type="days",
            choices="event_kinds",
        ),
        FieldSpec(
            "segment",
            "Member of segment",
            "Segments",
            ("in", "not_in"),
            _compile_segment,
            "value: segment id",
            value_type="id",
            choices="segments",
        ),
        FieldSpec(
            "coupon",
            "Coupon",
            "Coupons",
            ("assigned", "not_assigned", "redeemed", "not_redeemed", "assigned_not_redeemed"),
            _compile_coupon,
            'optional "pool": pool id; ' + _PERIOD,
            ("pool", "period"),
            value_type="none",
            choices="coupon_pools",
        ),
        FieldSpec(
            "message",
            "Message sent / opened / clicked",
            "Engagement",
            ("sent", "opened", "clicked", "not_sent", "not_opened", "not_clicked"),
            _compile_message,
            'optional "template", "journey", "step" (ids); ' + _PERIOD,
            ("template", "journey", "step", "period"),
            value_type="none",
        ),
        FieldSpec(
            "journey",
            "Journey",
            "Journeys",
            ("enrolled", "not_enrolled"),
            _compile_journey,
            'value: journey id; optional "state": a state or list of states',
            ("state",),
            value_type="id",
            choices="journeys",
        ),
    ]
}
