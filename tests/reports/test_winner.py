"""Declaring an A/B winner publishes a version that sends new entrants down the winner's branch, while
contacts in flight on the losing branch finish it on their own version."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact
from journeys.models import Enrollment, Step
from journeys.services import journey_enter, journeys_tick
from journeys.services.winner import journey_declare_winner
from segments.models import Segment
from tests.journeys.conftest import T0, contacts_make, journey_build

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def journey(db):
    segment_everyone = Segment.objects.create(name="Everyone", rules={})
    return journey_build(
        "Split test",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "split": (
                "ab_split",
                {"variants": [{"label": "A", "percent": 50}, {"label": "B", "percent": 50}]},
            ),
            "wait A": ("wait", {"days": 3}),
            "tag A": ("update_contact", {"action": "add_tag", "tag": "got-a"}),
            "wait B": ("wait", {"days": 3}),
            "tag B": ("update_contact", {"action": "add_tag", "tag": "got-b"}),
        },
        [
            ("entry", "next", "split"),
            ("split", "A", "wait A"),
            ("wait A", "next", "tag A"),
            ("split", "B", "wait B"),
            ("wait B", "next", "tag B"),
        ],
        now=T0,
    )


def test_declare_winner_routes_new_entrants_and_leaves_losers_in_flight(journey, admin_user):
    contacts_make(40, prefix="early")
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    v1 = journey.current_version
    on_b = set(
        Enrollment.objects.filter(variant="B", state="waiting").values_list("contact_id", "step__name")
    )
    assert on_b and {name for _, name in on_b} == {"wait B"}
    split_key = Step.objects.get(version=v1, kind="ab_split").key

    v2 = journey_declare_winner(journey=journey, step_key=split_key, variant="A", user=admin_user)

    journey.refresh_from_db()
    assert journey.current_version == v2 and v2.number == 2 and v2.published_by == admin_user
    assert sorted(Step.objects.filter(version=v2).values_list("name", flat=True)) == [
        "entry",
        "tag A",
        "wait A",
    ]
    # Losers in flight did not move: same version, same step.
    assert (
        set(
            Enrollment.objects.filter(contact_id__in=[c for c, _ in on_b]).values_list(
                "contact_id", "step__name"
            )
        )
        == on_b
    )
    assert set(
        Enrollment.objects.filter(contact_id__in=[c for c, _ in on_b]).values_list("version", flat=True)
    ) == {v1.pk}
    # New entrants all go down A.
    contacts_make(20, prefix="late")
    journey_enter(journey=journey, now=T0 + DAY)
    journeys_tick(now=T0 + DAY, deliver="", max_seconds=None)
    late = Enrollment.objects.filter(contact__email__startswith="late")
    assert late.count() == 20
    assert set(late.values_list("version", "step__name")) == {(v2.pk, "wait A")}
    # The losers finish their branch on version 1.
    journeys_tick(now=T0 + 4 * DAY, deliver="", max_seconds=None)
    tagged_b = set(Contact.objects.filter(tags__name="got-b").values_list("pk", flat=True))
    assert tagged_b == {c for c, _ in on_b}


def test_declare_winner_refuses_unknown_variant_and_step(journey):
    key = Step.objects.get(version=journey.current_version, kind="ab_split").key
    with pytest.raises(ValidationError, match="not a variant"):
        journey_declare_winner(journey=journey, step_key=key, variant="C", user=None)
    with pytest.raises(ValidationError, match="not part of the published version"):
        journey_declare_winner(journey=journey, step_key="nope", variant="A", user=None)
    assert journey.versions.count() == 1


def test_declare_winner_is_audited_with_the_acting_user(journey, admin_user):
    from audit.models import AuditEntry

    split = Step.objects.get(journey=journey, version=journey.current_version, kind="ab_split")
    winner = split.config["variants"][0]["label"]
    version = journey_declare_winner(journey=journey, step_key=split.key, variant=winner, user=admin_user)
    entry = AuditEntry.objects.get(action="journey.declare_winner")
    assert entry.user == admin_user and entry.object_id == str(journey.pk)
    assert entry.changes == {"step": split.key, "winner": winner, "version": version.number}
