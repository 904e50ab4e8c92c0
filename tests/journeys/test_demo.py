"""The demo campaigns (manage.py seed_campaigns) on a small demo shop."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from contacts.models import Contact
from coupons.models import Coupon, CouponPool
from journeys.demo import (
    DEMO_SEGMENTS,
    POOL_NAME,
    REFERRAL_JOURNEY,
    REMINDER_TEMPLATE,
    WINBACK_JOURNEY,
    WINBACK_TEMPLATE,
)
from journeys.models import Edge, Enrollment, Journey, JourneyVersion, Step
from journeys.services import journey_enter, journeys_tick
from messaging.models import Message, MessageTemplate
from segments.models import ContactScore, ScoringRun, Segment, SegmentSize
from segments.selectors import segment_contacts

pytestmark = pytest.mark.django_db

CONTACTS = 300
CODES = 300


def _seed_campaigns() -> str:
    out = io.StringIO()
    call_command("seed_campaigns", codes=CODES, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo_shop(db):
    call_command("seed_demo", contacts=CONTACTS, stdout=io.StringIO())


@pytest.fixture
def campaigns(demo_shop):
    return _seed_campaigns()


def _counts() -> dict[str, int]:
    models = (
        ScoringRun,
        ContactScore,
        Segment,
        SegmentSize,
        CouponPool,
        Coupon,
        MessageTemplate,
        Journey,
        JourneyVersion,
        Step,
        Edge,
        PeriodicTask,
    )
    return {model.__name__: model.objects.count() for model in models}


def test_seed_campaigns_scores_contacts_and_creates_segments_pool_templates_and_journeys(campaigns):
    assert "Demo campaigns ready" in campaigns
    run = ScoringRun.objects.get()
    assert run.status == ScoringRun.Status.DONE
    assert ContactScore.objects.count() == Contact.objects.count() == CONTACTS

    segments = {s.name: s for s in Segment.objects.all()}
    assert set(segments) == {name for name, _, _ in DEMO_SEGMENTS}
    for name in (
        "Lost and subscribed",
        "Defecting buyers",
        "Dormant referrers",
        "Referrers",
        "No open in 90 days",
    ):
        assert segments[name].size > 0, name
        assert segments[name].size == segment_contacts(segment=segments[name]).count()
    assert all(s.size is not None for s in segments.values())

    pool = CouponPool.objects.get(name=POOL_NAME)
    assert (pool.offer_kind, pool.offer_value, pool.valid_days) == ("percent", 15, 30)
    assert pool.coupons.filter(contact__isnull=True).count() == CODES

    winback_template = MessageTemplate.objects.get(name=WINBACK_TEMPLATE)
    assert "coupon.code" in winback_template.html_body and "recommendations" in winback_template.html_body
    assert MessageTemplate.objects.filter(name=REMINDER_TEMPLATE, channel="email").exists()

    winback = Journey.objects.get(name=WINBACK_JOURNEY)
    assert winback.status == Journey.Status.ACTIVE and winback.current_version is not None
    assert (winback.holdout_percent, winback.conversion_window_days) == (10, 14)
    task = PeriodicTask.objects.get(name=f"journey:{winback.pk}:entry")
    assert task.enabled and (task.interval.every, task.interval.period) == (10, "minutes")
    entry = Step.objects.get(version=winback.current_version, kind="entry")
    assert entry.config["segment_id"] == segments["Defecting buyers"].pk and entry.config["mode"] == "new"
    # Laid out top to bottom: every edge of the main path goes down the page.
    for edge in Edge.objects.filter(journey=winback, version=None).select_related("from_step", "to_step"):
        assert edge.to_step.y >= edge.from_step.y, edge
    assert Edge.objects.filter(
        journey=winback, version=None, branch="exhausted", to_step__kind="end"
    ).exists()

    referral = Journey.objects.get(name=REFERRAL_JOURNEY)
    assert referral.status == Journey.Status.DRAFT and referral.current_version is None
    assert not PeriodicTask.objects.filter(name=f"journey:{referral.pk}:entry").exists()
    split = Step.objects.get(journey=referral, kind="attribute_split")
    assert split.config == {"field": "attributes.referral_activity", "values": ["Active", "Dormant"]}
    assert set(split.out_edges.values_list("branch", flat=True)) == {"Active", "Dormant", "default"}


def test_second_run_creates_nothing_and_reads_only(campaigns, django_assert_max_num_queries):
    before = _counts()
    with django_assert_max_num_queries(16):  # a constant few lookups by name
        output = _seed_campaigns()
    assert "nothing to do" in output
    assert _counts() == before


def test_without_a_demo_shop_nothing_is_created(db):
    assert "No demo shop" in _seed_campaigns()
    assert not Journey.objects.exists() and not Segment.objects.exists() and not ScoringRun.objects.exists()


def test_entry_and_tick_send_the_winback_email_to_consenting_contacts_only(campaigns):
    journey = Journey.objects.get(name=WINBACK_JOURNEY)
    defecting = segment_contacts(segment=Segment.objects.get(name="Defecting buyers"))
    reachable = set(defecting.filter(status="active", email_consent=True).values_list("pk", flat=True))
    unreachable = set(defecting.values_list("pk", flat=True)) - reachable
    assert reachable and unreachable  # the demo has both kinds

    # seed_campaigns let the current segment in (the schedule's first run is 10 minutes away) ...
    assert "contacts entered the win-back journey" in campaigns
    assert set(Enrollment.objects.filter(journey=journey).values_list("contact_id", flat=True)) == reachable
    assert {e.step.kind for e in Enrollment.objects.filter(journey=journey).select_related("step")} == {
        "entry"
    }
    assert not Message.objects.exists()
    # ... and the scheduled entry runs take only newcomers.
    assert journey_enter(journey=journey) == 0

    now = timezone.now()
    journeys_tick(now=now, deliver="")

    enrollments = list(Enrollment.objects.filter(journey=journey).select_related("step"))
    messaged = [e for e in enrollments if not e.holdout]
    held_out = [e for e in enrollments if e.holdout]
    assert messaged and held_out  # 10% holdout of a few hundred contacts
    # Past the coupon and the email, everyone waits 7 days (holdout contacts too, but without email or code).
    assert {(e.state, e.step.name) for e in enrollments} == {("waiting", "Wait 7 days")}

    messages = Message.objects.filter(journey_id=journey.pk)
    assert sorted(messages.values_list("contact_id", flat=True)) == sorted(e.contact_id for e in messaged)
    assert set(messages.values_list("status", flat=True)) == {Message.Status.QUEUED}
    assert set(messages.values_list("template__name", flat=True)) == {WINBACK_TEMPLATE}
    assert not Message.objects.filter(contact_id__in=unreachable).exists()
    codes = dict(
        Coupon.objects.filter(pool__name=POOL_NAME, contact__isnull=False).values_list("contact_id", "code")
    )
    assert set(codes) == {e.contact_id for e in messaged}
    for message in messages:
        assert message.context["coupon"]["code"] == codes[message.contact_id]
