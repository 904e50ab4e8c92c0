"""Helpers to build journeys compactly: steps by name, edges as (from, branch, to)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Contact
from journeys.models import Edge, Journey, Step
from journeys.services import journey_publish

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday, 12:00 UTC


def contacts_make(n: int, *, prefix: str = "c", **fields) -> list[Contact]:
    defaults = {"email_consent": True, "sms_consent": True, "push_consent": True, "timezone": "UTC"}
    defaults.update(fields)
    Contact.objects.bulk_create(
        [Contact(email=f"{prefix}{i}@example.com", phone=f"+4915100{i:05d}", **defaults) for i in range(n)]
    )
    return list(Contact.objects.filter(email__startswith=prefix).order_by("id"))


def journey_build(
    name: str,
    steps: dict[str, tuple[str, dict]],
    edges: list[tuple[str, str, str]],
    *,
    publish: bool = True,
    now: dt.datetime | None = None,
    **settings,
) -> Journey:
    """steps: {"name": (kind, config)}; edges: [(from name, branch, to name)]."""
    journey = Journey.objects.create(name=name, **settings)
    made = {
        key: Step.objects.create(journey=journey, name=key, kind=kind, config=config, y=i * 100)
        for i, (key, (kind, config)) in enumerate(steps.items())
    }
    Edge.objects.bulk_create(
        [Edge(journey=journey, from_step=made[a], branch=b, to_step=made[c]) for a, b, c in edges]
    )
    if publish:
        journey_publish(journey=journey, now=now or timezone.now())
        journey.refresh_from_db()
    return journey


def version_step(journey: Journey, name: str) -> Step:
    return Step.objects.get(version=journey.current_version, name=name)


@pytest.fixture
def segment_everyone(db):
    from segments.models import Segment

    return Segment.objects.create(name="Everyone", rules={})


@pytest.fixture
def email_template(db):
    from messaging.models import MessageTemplate

    return MessageTemplate.objects.create(
        name="Winback",
        channel="email",
        subject="We miss you {{ contact.first_name }}",
        html_body="<p>Your code: {{ coupon.code }}</p>",
    )


@pytest.fixture
def pool(db):
    from coupons.models import CouponPool
    from coupons.services import coupons_generate

    pool = CouponPool.objects.create(name="Winback 15", offer_kind="percent", offer_value=15)
    coupons_generate(pool=pool, count=50)
    return pool
