"""Demo campaigns for `make run`: scores, segments, a coupon pool, templates and two journeys.

`campaigns_demo_seed()` builds on the demo shop (contacts.services.demo) through each app's own services,
so a marketer who logs in sees a working win-back set-up, not just data. Idempotent: everything is
found by name and created only when missing; a second call writes nothing and takes milliseconds.

Safety: it does nothing unless the demo shop exists (external ids `demo-…`, addresses @example.com), so
it never starts an active journey on an installation with real customers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from journeys.models import Edge, Journey, Step
from journeys.services import journey_enter, journey_graph_validate, journey_publish

WINBACK_JOURNEY = "Win back defecting buyers"
REFERRAL_JOURNEY = "Referral nudge"
POOL_NAME = "Win-back 15%"
REMINDER_TEMPLATE = "Win-back reminder (email)"
WINBACK_TEMPLATE = "Win-back: we miss you (email)"  # from messaging.demo
REFERRAL_TEMPLATE = "Referral reminder (email)"  # from messaging.demo

# (name, description, rule tree in the format segments.rules validates)
DEMO_SEGMENTS: list[tuple[str, str, dict]] = [
    (
        "Lost and subscribed",
        "RFM segment Lost or Hibernating (low recency and frequency), with email consent: worth one last "
        "offer. Hibernating is included because one-order buyers share one frequency score, which leaves "
        "Lost (F = 1) empty in shops like the demo.",
        {
            "op": "and",
            "rules": [
                {"field": "rfm_segment", "operator": "in", "value": ["Lost", "Hibernating"]},
                {"field": "email_consent", "operator": "is", "value": True},
            ],
        },
    ),
    (
        "Defecting buyers",
        "Last purchase 90 to 365 days ago (lifecycle stage defecting). Entry of the win-back journey.",
        {"field": "lifecycle_stage", "operator": "in", "value": ["defecting"]},
    ),
    (
        "Low CLV",
        "Predicted customer lifetime value in the Low cluster.",
        {"field": "clv_cluster", "operator": "in", "value": ["Low"]},
    ),
    (
        "CLV cluster Inactive",
        "Predicted customer lifetime value in the Inactive cluster (probably gone).",
        {"field": "clv_cluster", "operator": "in", "value": ["Inactive"]},
    ),
    (
        "Dormant referrers",
        "Brought at least one friend but stopped sharing.",
        {
            "op": "and",
            "rules": [
                {"field": "attribute", "key": "referral_activity", "operator": "eq", "value": "Dormant"},
                {"field": "attribute", "key": "referral_successful_count", "operator": "gte", "value": 1},
            ],
        },
    ),
    (
        "Referrers",
        "Brought at least one friend. Entry of the referral nudge journey.",
        {"field": "attribute", "key": "referral_successful_count", "operator": "gte", "value": 1},
    ),
    (
        "No open in 90 days",
        "Can receive email but opened none in the last 90 days.",
        {
            "op": "and",
            "rules": [
                {"field": "reachable", "operator": "is", "value": "email"},
                {"field": "email_opened", "operator": "not_within_last_days", "value": 90},
            ],
        },
    ),
]

REMINDER_BODY = (
    '<h1>{{ contact.first_name|default:"Hello" }}, your code is waiting</h1>'
    "<p>Just a reminder: your personal code is still valid. Perhaps one of these?</p>"
)


def _reminder_html() -> str:
    from messaging.email_layout import email_html

    return email_html(body=REMINDER_BODY, preheader="Your code is still valid", coupon=True, products=True)


def _reminder_text() -> str:
    from messaging.email_layout import email_text

    return email_text(body=REMINDER_BODY, coupon=True, products=True)


# Editor layout: one column, a row every ROW pixels; side branches one column to the right.
X, SIDE_X, ROW = 300, 620, 140


@dataclass
class CampaignsDemoResult:
    skipped: str = ""
    scoring_run_id: int | None = None
    scoring_status: str = ""
    scoring_seconds: float = 0.0
    segments_created: list[str] = field(default_factory=list)
    segment_sizes: dict[str, int | None] = field(default_factory=dict)
    pool_created: bool = False
    codes_generated: int = 0
    templates_created: list[str] = field(default_factory=list)
    journeys_created: list[str] = field(default_factory=list)
    entered: int = 0
    journey_ids: dict[str, int] = field(default_factory=dict)

    @property
    def created_anything(self) -> bool:
        return bool(
            self.scoring_run_id
            or self.segments_created
            or self.pool_created
            or self.templates_created
            or self.journeys_created
        )


def _scores_ensure(result: CampaignsDemoResult) -> None:
    """A synchronous scoring run when contacts were never scored (segments need the scores)."""
    from segments.models import ContactScore, ScoringRun
    from segments.services import scoring_run_execute

    if ContactScore.objects.exists():
        return
    started = time.monotonic()
    run = scoring_run_execute(run=ScoringRun.objects.create(trigger=ScoringRun.Trigger.COMMAND))
    result.scoring_run_id, result.scoring_status = run.pk, run.status
    result.scoring_seconds = time.monotonic() - started
    # A failed run is reported, not raised: `make run` still starts (segments on scores stay empty).


def _segments_ensure(result: CampaignsDemoResult) -> dict:
    from segments.models import Segment
    from segments.rules import rules_errors
    from segments.services import segment_evaluate

    existing = {s.name: s for s in Segment.objects.filter(name__in=[name for name, _, _ in DEMO_SEGMENTS])}
    for name, description, rules in DEMO_SEGMENTS:
        if name in existing:
            continue
        errors = rules_errors(rules)
        if errors:  # a programming error in this module: fail loudly
            raise ValidationError(f"Demo segment {name!r}: {errors}")
        # Segments have no create service: the admin saves its ModelForm after the same rules_errors check.
        segment = Segment.objects.create(name=name, description=description, rules=rules)
        segment_evaluate(segment=segment)
        existing[name] = segment
        result.segments_created.append(name)
    result.segment_sizes = {name: existing[name].size for name, _, _ in DEMO_SEGMENTS}
    return existing


def _pool_ensure(result: CampaignsDemoResult, codes: int):
    from coupons.models import CouponPool
    from coupons.services import coupons_generate

    pool = CouponPool.objects.filter(name=POOL_NAME).first()
    if pool is not None:
        return pool
    # Pools have no create service: the admin saves its ModelForm; codes go through the service.
    pool = CouponPool.objects.create(
        name=POOL_NAME,
        offer_kind=CouponPool.OfferKind.PERCENT,
        offer_value=15,
        valid_days=30,
        low_stock_threshold=max(codes // 10, 1),
    )
    result.pool_created = True
    result.codes_generated = coupons_generate(pool=pool, count=codes, prefix="WB15-", length=8)
    return pool


def _templates_ensure(result: CampaignsDemoResult) -> dict:
    from messaging.demo import message_templates_demo_seed
    from messaging.models import Channel, MessageTemplate
    from messaging.services import message_template_save

    before = set(MessageTemplate.objects.values_list("name", flat=True))
    by_name = {t.name: t for t in message_templates_demo_seed()}
    winback = by_name.get(WINBACK_TEMPLATE)
    if (
        winback is None
        or "coupon.code" not in winback.html_body
        or "recommendations" not in winback.html_body
    ):
        raise RuntimeError(
            f"messaging.demo no longer provides {WINBACK_TEMPLATE!r} with coupon and products."
        )
    reminder = MessageTemplate.objects.filter(name=REMINDER_TEMPLATE).first()
    if reminder is None:
        reminder = message_template_save(
            template=MessageTemplate(
                name=REMINDER_TEMPLATE,
                channel=Channel.EMAIL,
                subject="{{ contact.first_name|default:'Hello' }}, your code is waiting",
                html_body=_reminder_html(),
                text_body=_reminder_text(),
            )
        )
    by_name[REMINDER_TEMPLATE] = reminder
    result.templates_created = sorted(set(by_name) - before)
    return by_name


def _graph_create(journey: Journey, steps: list[tuple], edges: list[tuple[str, str, str]]) -> None:
    """Draft steps [(ref, kind, name, config, column, row)] and edges [(from ref, branch, to ref)]."""
    made = {
        ref: Step.objects.create(journey=journey, kind=kind, name=name, config=config, x=x, y=row * ROW + 40)
        for ref, kind, name, config, x, row in steps
    }
    Edge.objects.bulk_create(
        [Edge(journey=journey, from_step=made[a], branch=b, to_step=made[c]) for a, b, c in edges]
    )


def _winback_journey(result: CampaignsDemoResult, segments: dict, pool, templates: dict) -> None:
    if Journey.objects.filter(name=WINBACK_JOURNEY).exists():
        return
    journey = Journey.objects.create(
        name=WINBACK_JOURNEY,
        description="Every 10 minutes, buyers who newly became 'defecting' (and can receive email) get a 15% "
        "code and an email with products picked for them; a reminder follows after 7 days unless they "
        "bought. 10% are held out to measure the lift; a purchase within 14 days counts as a conversion.",
        reentry=Journey.Reentry.AFTER_DAYS,
        reentry_days=180,
        holdout_percent=10,
        conversion_window_days=14,
    )
    entry = {
        "segment_id": segments["Defecting buyers"].pk,
        "every": 10,
        "period": "minutes",
        "mode": "new",
        "consent": "email",
    }
    _graph_create(
        journey,
        [
            ("entry", "entry", "Defecting buyers", entry, X, 0),
            ("coupon", "assign_coupon", "15% code", {"pool_id": pool.pk}, X, 1),
            ("no_codes", "end", "No codes left", {}, SIDE_X, 1),
            ("email", "send_email", "We miss you", {"template_id": templates[WINBACK_TEMPLATE].pk}, X, 2),
            ("wait", "wait", "Wait 7 days", {"mode": "duration", "days": 7}, X, 3),
            ("bought", "has_purchased", "Bought since entry?", {"since_entry": True, "more_than": 0}, X, 4),
            ("won", "end", "Came back", {}, SIDE_X, 4),
            ("reminder", "send_email", "Reminder", {"template_id": templates[REMINDER_TEMPLATE].pk}, X, 5),
            ("done", "end", "Done", {}, X, 6),
        ],
        [
            ("entry", "next", "coupon"),
            ("coupon", "next", "email"),
            ("coupon", "exhausted", "no_codes"),
            ("email", "next", "wait"),
            ("wait", "next", "bought"),
            ("bought", "yes", "won"),
            ("bought", "no", "reminder"),
            ("reminder", "next", "done"),
        ],
    )
    journey_publish(journey=journey)  # validates, freezes v1, makes it active and creates the entry schedule
    # The schedule's first run is 10 minutes away: let the current segment in now, so the worker's next
    # tick (seconds after `make run` starts it) sends the first emails to the local SMTP sink.
    result.entered = journey_enter(journey=journey)
    result.journeys_created.append(WINBACK_JOURNEY)


def _referral_journey(result: CampaignsDemoResult, segments: dict, templates: dict) -> None:
    if Journey.objects.filter(name=REFERRAL_JOURNEY).exists():
        return
    journey = Journey.objects.create(
        name=REFERRAL_JOURNEY,
        description="A draft to try the editor: referrers who stopped sharing get their share link again. "
        "Publish it to start it.",
    )
    entry = {
        "segment_id": segments["Referrers"].pk,
        "every": 1,
        "period": "days",
        "mode": "new",
        "consent": "email",
    }
    _graph_create(
        journey,
        [
            ("entry", "entry", "Referrers", entry, X, 0),
            (
                "split",
                "attribute_split",
                "Referral activity",
                {"field": "attributes.referral_activity", "values": ["Active", "Dormant"]},
                X,
                1,
            ),
            ("active", "end", "Still sharing", {}, SIDE_X, 1),
            (
                "nudge",
                "send_email",
                "Share your link",
                {"template_id": templates[REFERRAL_TEMPLATE].pk},
                X,
                2,
            ),
            ("done", "end", "Done", {}, X, 3),
            ("other", "end", "Unknown activity", {}, SIDE_X, 2),
        ],
        [
            ("entry", "next", "split"),
            ("split", "Active", "active"),
            ("split", "Dormant", "nudge"),
            ("split", "default", "other"),
            ("nudge", "next", "done"),
        ],
    )
    journey_graph_validate(journey=journey)  # a draft, but one that publishes as it is
    result.journeys_created.append(REFERRAL_JOURNEY)


def campaigns_demo_seed(*, codes: int = 2000) -> CampaignsDemoResult:
    """Scores, segments, pool, templates and journeys for the demo shop; creates only what is missing."""
    from contacts.services.demo import demo_exists

    result = CampaignsDemoResult()
    if not demo_exists():
        result.skipped = "No demo shop (manage.py seed_demo): demo campaigns are only added to demo data."
        return result
    _scores_ensure(result)  # its own transactions: progress is visible while it runs
    with transaction.atomic():
        segments = _segments_ensure(result)
        pool = _pool_ensure(result, codes)
        templates = _templates_ensure(result)
        _winback_journey(result, segments, pool, templates)
        _referral_journey(result, segments, templates)
    result.journey_ids = dict(
        Journey.objects.filter(name__in=[WINBACK_JOURNEY, REFERRAL_JOURNEY]).values_list("name", "pk")
    )
    return result
