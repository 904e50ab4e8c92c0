"""The five playbooks: each is created on the demo shop, passes validation and publishes once its pools
have codes; options; reuse; the command line."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from coupons.models import CouponPool
from coupons.services import coupons_generate
from journeys.models import Journey, Step
from journeys.playbooks import playbook_create, playbook_get, playbooks_list
from journeys.services import journey_graph_validate, journey_publish
from segments.models import Segment

pytestmark = pytest.mark.django_db

TITLES = [
    "Defecting advocates",
    "Low-CLV coupon",
    "At-risk multichannel",
    "Base clean-up",
    "CLV inactive re-engagement",
]


def test_the_five_playbooks_are_files_with_the_names_of_the_issue():
    assert [p.title for p in playbooks_list()] == TITLES
    for playbook in playbooks_list():
        assert playbook.summary and playbook.channels and playbook.prepare


def _codes_for(result) -> None:
    for name in result.created.get("pools", []) + result.reused.get("pools", []):
        pool = CouponPool.objects.get(name=name)
        if not pool.codes_total:
            coupons_generate(pool=pool, count=20, prefix=f"T{pool.pk}-", length=6)


@pytest.mark.parametrize("title", TITLES)
def test_each_playbook_creates_on_the_demo_shop_and_publishes_once_pools_have_codes(demo_shop, title):
    result = playbook_create(playbook=playbook_get(title))
    journey = result.journey
    assert journey.status == Journey.Status.DRAFT and journey.name == title
    assert any("no codes yet" in note for note in result.notes) == bool(result.created.get("pools"))
    _codes_for(result)
    journey_graph_validate(journey=journey)
    version = journey_publish(journey=journey)
    journey.refresh_from_db()
    assert journey.status == Journey.Status.ACTIVE and version.number == 1


def test_prefix_names_everything_and_reuses_same_name_objects(demo_shop):
    first = playbook_create(playbook=playbook_get("Low-CLV coupon"), prefix="Spring")
    assert first.journey.name == "Spring Low-CLV coupon"
    assert set(first.created["segments"]) == {"Spring Contacts with email", "Spring Low CLV"}
    assert first.created["pools"] == ["Spring Low-CLV 15%"]
    assert set(first.created["templates"]) == {"Spring Low CLV: your code", "Spring Low CLV: reminder"}
    segments = Segment.objects.count()
    with pytest.raises(ValidationError, match="exists already"):
        playbook_create(playbook=playbook_get("low-clv-coupon"), prefix="Spring")
    second = playbook_create(playbook=playbook_get("Low-CLV coupon"), prefix="Summer")
    assert Segment.objects.count() == segments + 2
    third = playbook_create(playbook=playbook_get("Defecting advocates"), prefix="Spring")
    assert third.reused == {}  # nothing of the same name in that playbook
    assert second.journey.pk != first.journey.pk


def test_base_clean_up_option_picks_delete_or_anonymize(demo_shop):
    default = playbook_create(playbook=playbook_get("Base clean-up"), prefix="A")
    assert Step.objects.get(journey=default.journey, key="remove").config["mode"] == "anonymize"
    chosen = playbook_create(playbook=playbook_get("Base clean-up"), prefix="B", options={"mode": "delete"})
    assert Step.objects.get(journey=chosen.journey, key="remove").config["mode"] == "delete"
    with pytest.raises(ValidationError, match="anonymize, delete"):
        playbook_create(playbook=playbook_get("Base clean-up"), prefix="C", options={"mode": "shred"})


def test_clv_inactive_takes_start_and_end_dates(demo_shop):
    result = playbook_create(
        playbook=playbook_get("CLV inactive re-engagement"),
        options={"start_at": "2026-01-01", "end_at": "2026-03-31"},
    )
    entry = Step.objects.get(journey=result.journey, key="entry")
    assert entry.config["start_at"].startswith("2026-01-01T00:00")
    assert entry.config["end_at"].startswith("2026-03-31T00:00")
    with pytest.raises(ValidationError, match="after the start"):
        playbook_create(
            playbook=playbook_get("CLV inactive re-engagement"),
            prefix="X",
            options={"start_at": "2026-03-01", "end_at": "2026-01-01"},
        )


def test_segments_of_the_playbooks_on_the_demo_shop(demo_shop):
    """Every segment a playbook uses, with its size on the demo shop (printed for the report)."""
    sizes = {}
    for playbook in playbooks_list():
        result = playbook_create(playbook=playbook, prefix=f"Size {playbook.slug}")
        for name in result.created.get("segments", []):
            sizes[name] = Segment.objects.get(name=name).size
    print(sizes)
    empty = {name for name, size in sizes.items() if not size}
    assert empty == set(), sizes


def test_command_creates_a_playbook_and_prints_what_it_created(demo_shop):
    out = io.StringIO()
    call_command("playbook_create", "At-risk multichannel", "--prefix", "Q3", stdout=out)
    text = out.getvalue()
    assert "journey: created draft “Q3 At-risk multichannel”" in text
    assert "pool: created “Q3 At-risk 15%”" in text
    assert "audience: created “Q3 At-risk retargeting”" in text
    assert "no codes yet" in text
    with pytest.raises(Exception, match="No playbook named"):
        call_command("playbook_create", "Nope", stdout=io.StringIO())
