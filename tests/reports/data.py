"""Known data for report tests: every number the report shows can be counted from these lists by hand.

Journey "Spring winback" (holdout 20 %, window 14 days): entry -> A/B split -> A: "Email A", B: "Email B".
100 contacts: treated A 40, treated B 40, holdout 20 (10 on each branch; never messaged).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from contacts.models import Contact, Order
from journeys.models import Conversion, Enrollment, Journey, Step, StepRun
from messaging.models import Message, MessageTemplate
from segments.models import ContactScore, ScoreChange, ScoringRun, Segment
from tests.journeys.conftest import journey_build

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

# Revenue of each conversion per group (the count is the number of conversions).
REVENUE = {
    ("A", False): ["40.00", "55.50", "120.00", "30.00", "80.00", "25.00", "60.00", "45.00"],
    ("B", False): ["35.00", "70.00", "20.00", "90.00"],
    ("A", True): ["50.00"],
    ("B", True): [],
}
SIZES = {("A", False): 40, ("B", False): 40, ("A", True): 10, ("B", True): 10}
# Days from entry to purchase of each conversion, in the order of REVENUE.
DAYS_TO_PURCHASE = {
    ("A", False): [1, 2, 2, 3, 5, 6, 8, 10],
    ("B", False): [1, 4, 7, 9],
    ("A", True): [12],
    ("B", True): [],
}
IN_FLIGHT_B = 5  # treated B contacts still waiting at "Email B" (not converted)
# Messages per branch: (sent, bounced, suppressed, opened, clicked, unsubscribed); "sent" = delivered.
MESSAGES = {"A": (36, 2, 2, 20, 8, 1), "B": (30, 3, 2, 12, 3, 2)}


@dataclass
class Known:
    journey: Journey
    steps: dict[str, Step]
    contacts: dict[tuple[str, bool], list[Contact]] = field(default_factory=dict)
    enrollments: dict[tuple[str, bool], list[Enrollment]] = field(default_factory=dict)


def known_journey_build() -> Known:
    segment = Segment.objects.create(name="Everyone", rules={})
    template = MessageTemplate.objects.create(
        name="Spring", channel="email", subject="Hi", html_body="<p>Hi</p>"
    )
    journey = journey_build(
        "Spring winback",
        {
            "entry": ("entry", {"segment_id": segment.pk, "every": 1, "period": "days"}),
            "split": (
                "ab_split",
                {"variants": [{"label": "A", "percent": 50}, {"label": "B", "percent": 50}]},
            ),
            "Email A": ("send_email", {"template_id": template.pk}),
            "Email B": ("send_email", {"template_id": template.pk}),
        },
        [("entry", "next", "split"), ("split", "A", "Email A"), ("split", "B", "Email B")],
        now=T0 - DAY,
        holdout_percent=20,
        conversion_window_days=14,
    )
    steps = {s.name: s for s in Step.objects.filter(version=journey.current_version)}
    known = Known(journey=journey, steps=steps)
    version = journey.current_version
    run = ScoringRun.objects.create(status="done")
    counter = 0
    for (variant, holdout), size in SIZES.items():
        prefix = f"{variant.lower()}{'h' if holdout else 't'}"
        Contact.objects.bulk_create(
            [Contact(email=f"{prefix}{i}@example.com", email_consent=True) for i in range(size)]
        )
        contacts = list(Contact.objects.filter(email__startswith=prefix).order_by("id"))
        known.contacts[(variant, holdout)] = contacts
        revenues = REVENUE[(variant, holdout)]
        enrollments = []
        for i, contact in enumerate(contacts):
            counter += 1
            entered = T0 + (0 if i % 2 == 0 else 10) * DAY  # half enter on day 0, half on day 10
            converted = i < len(revenues)
            in_flight = variant == "B" and not holdout and len(revenues) <= i < len(revenues) + IN_FLIGHT_B
            if converted:
                state, reason, step = "exited", "converted", None
            elif in_flight:
                state, reason, step = "waiting", "", steps["Email B"]
            else:
                state, reason, step = "completed", "end", None
            enrollments.append(
                Enrollment(
                    journey=journey,
                    version=version,
                    contact=contact,
                    step=step,
                    state=state,
                    exit_reason=reason,
                    entered_at=entered,
                    entry_key=f"k{counter}",
                    holdout=holdout,
                    variant=variant,
                )
            )
        Enrollment.objects.bulk_create(enrollments)
        enrollments = list(Enrollment.objects.filter(contact__in=contacts).order_by("contact_id"))
        known.enrollments[(variant, holdout)] = enrollments
        branch_step = steps[f"Email {variant}"]
        runs = []
        for i, e in enumerate(enrollments):
            runs.append(StepRun(enrollment=e, step=steps["entry"], visit=0, contact_id=e.contact_id,
                                journey_id=journey.pk, kind="entry", branch="next"))  # fmt: skip
            runs.append(StepRun(enrollment=e, step=steps["split"], visit=1, contact_id=e.contact_id,
                                journey_id=journey.pk, kind="ab_split", branch=variant))  # fmt: skip
            if e.state != "waiting":
                runs.append(StepRun(enrollment=e, step=branch_step, visit=2, contact_id=e.contact_id,
                                    journey_id=journey.pk, kind="send_email", branch="next",
                                    outcome="holdout" if holdout else "sent"))  # fmt: skip
            if i < len(revenues):
                placed = e.entered_at + DAYS_TO_PURCHASE[(variant, holdout)][i] * DAY
                order = Order.objects.create(
                    external_id=f"O-{e.pk}", contact_id=e.contact_id, placed_at=placed, total=revenues[i]
                )
                Conversion.objects.create(
                    enrollment=e, journey=journey, order=order, contact_id=e.contact_id,
                    revenue=Decimal(revenues[i]), variant=variant, holdout=holdout, converted_at=placed,
                )  # fmt: skip
        StepRun.objects.bulk_create(runs)
    # Messages (treated only): the first enrollments of each branch that walked past the email step.
    for variant, (sent, bounced, suppressed, opened, clicked, unsubscribed) in MESSAGES.items():
        walked = [e for e in known.enrollments[(variant, False)] if e.state != "waiting"]
        messages = []
        for i, e in enumerate(walked[: sent + bounced + suppressed]):
            status = "sent" if i < sent else "bounced" if i < sent + bounced else "suppressed"
            messages.append(
                Message(
                    contact_id=e.contact_id,
                    channel="email",
                    template=template,
                    idempotency_key=f"enrollment:{e.pk}:step:{steps[f'Email {variant}'].pk}",
                    status=status,
                    journey_id=journey.pk,
                    step_id=steps[f"Email {variant}"].pk,
                    enrollment_id=e.pk,
                    sent_at=T0 if status != "suppressed" else None,
                    opened_at=T0 if i < opened else None,
                    clicked_at=T0 if i < clicked else None,
                    unsubscribed_at=T0 if i < unsubscribed else None,
                )  # fmt: skip
            )
        Message.objects.bulk_create(messages)
    # Scores: lifecycle stage at entry. Treated A: the last 10 non-converted are 'lost' now and were then;
    # treated A's first 4 converted were 'defecting' at entry and are 'active' now (a change after entry).
    # Holdout A: 4 'lost' at entry, of whom the one converted contact bought.
    scores = []
    changes = []
    for i, c in enumerate(known.contacts[("A", False)]):
        if i < 4:
            scores.append(ContactScore(contact=c, lifecycle_stage="active", clv_cluster="Low"))
            changes.append(ScoreChange(contact=c, run=run, changed_at=T0 + 20 * DAY, field="stage",
                                       old="defecting", new="active"))  # fmt: skip
            changes.append(ScoreChange(contact=c, run=run, changed_at=T0 + 20 * DAY, field="cluster",
                                       old="Inactive", new="Low"))  # fmt: skip
        elif i >= 30:
            scores.append(ContactScore(contact=c, lifecycle_stage="lost", clv_cluster="Inactive"))
        else:
            scores.append(ContactScore(contact=c, lifecycle_stage="active", clv_cluster="Medium"))
    for i, c in enumerate(known.contacts[("A", True)]):
        if i < 4:
            scores.append(ContactScore(contact=c, lifecycle_stage="lost", clv_cluster="Inactive"))
    ContactScore.objects.bulk_create(scores)
    ScoreChange.objects.bulk_create(changes)
    return known


def showcase_build(today: dt.date) -> Known:
    """The known journey plus a month of rollup history and RFM segments, so every chart has something
    to draw (browser test and README screenshots)."""
    import math

    from reports.models import DailyCount

    known = known_journey_build()
    segments = [
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
    ]
    scored = list(ContactScore.objects.order_by("contact_id"))
    for i, score in enumerate(scored):
        score.rfm_segment = segments[i % len(segments)]
        score.predicted_clv = 40 + (i * 37) % 260
        if i % 5 == 0:
            score.lifecycle_stage = "defecting"
    ContactScore.objects.bulk_update(scored, ["rfm_segment", "predicted_clv", "lifecycle_stage"])
    rows = []
    for offset in range(30):
        day = today - dt.timedelta(days=29 - offset)
        wave = 1 + 0.35 * math.sin(offset / 3)
        sent = int(1800 * wave) + offset * 12
        for key, value in (
            ("sent", sent), ("delivered", int(sent * 0.97)), ("opened", int(sent * 0.41)),
            ("clicked", int(sent * 0.09)), ("bounced", int(sent * 0.03)),
        ):  # fmt: skip
            rows.append(DailyCount(day=day, metric="messages", key=key, value=value))
        for j, name in enumerate(segments):
            trend = {"At Risk": -9, "Champions": 6, "Hibernating": -4}.get(name, 1)
            rows.append(
                DailyCount(day=day, metric="segment", key=name, value=4200 - j * 450 + trend * offset * 5)
            )
    run = ScoringRun.objects.create(status="done")
    moment = dt.datetime.combine(today, dt.time(1), tzinfo=dt.UTC)
    ScoreChange.objects.bulk_create(
        [
            ScoreChange(contact=c, run=run, changed_at=moment, field="stage", old="lost", new="active")
            for c in known.contacts[("B", False)][:7]
        ]
    )
    from coupons.models import CouponPool
    from coupons.services import coupon_redemptions_record, coupons_assign_bulk, coupons_generate

    pool = CouponPool.objects.create(name="Spring 15 %", offer_kind="percent", offer_value=15)
    coupons_generate(pool=pool, count=120)
    treated = [c.pk for c in known.contacts[("A", False)] + known.contacts[("B", False)]]
    codes = coupons_assign_bulk(pool=pool, contact_ids=treated)
    orders = [
        Order.objects.create(
            external_id=f"CPN{cid}", contact_id=cid, total=f"{35 + (i * 17) % 90}.00",
            coupon_code=codes[cid].code, placed_at=codes[cid].assigned_at,
        ).pk
        for i, cid in enumerate(treated[:31])
    ]  # fmt: skip
    coupon_redemptions_record(order_ids=orders)
    from reports.services import rollups_refresh

    rollups_refresh(today=today, message_days=1)
    # Today's snapshot from the real scores is tiny next to the history: the history's today replaces it,
    # and the stage counts are scaled to the same size.
    DailyCount.objects.filter(metric__in=["segment", "messages"]).delete()
    DailyCount.objects.bulk_create(rows)
    DailyCount.objects.filter(day=today, metric="stage").update(value=models_f("value") * 90)
    DailyCount.objects.filter(day=today, metric="at_risk").update(
        value=models_f("value") * 90, amount=models_f("amount") * 90
    )
    return known


def models_f(name: str):
    from django.db.models import F

    return F(name)
