"""Journey files: export, import into a fresh installation (simulated by a prefix or deleting), errors."""

from __future__ import annotations

import copy
import json

import pytest
from django.core.exceptions import ValidationError

from coupons.models import CouponPool
from journeys.demo import WINBACK_JOURNEY
from journeys.models import Edge, Journey, Step
from journeys.services.transfer import journey_export, journey_import
from messaging.models import MessageTemplate
from segments.models import Segment

pytestmark = pytest.mark.django_db


def _graph(journey: Journey) -> tuple[list, list]:
    steps = sorted(
        (s.key, s.kind, s.name, s.x, s.y) for s in Step.objects.filter(journey=journey, version=None)
    )
    edges = sorted(
        (e.from_step.key, e.branch, e.to_step.key)
        for e in Edge.objects.filter(journey=journey, version=None).select_related("from_step", "to_step")
    )
    return steps, edges


def test_export_refers_to_objects_by_name_and_carries_their_definitions(demo_shop):
    journey = Journey.objects.get(name=WINBACK_JOURNEY)
    data = json.loads(json.dumps(journey_export(journey=journey)))  # JSON-ready
    assert data["format"] == "winback.journey" and data["version"] == 1
    configs = {s["kind"]: s["config"] for s in data["journey"]["steps"]}
    assert configs["entry"]["segment"] == "Defecting buyers"
    assert "segment_id" not in configs["entry"]
    assert configs["assign_coupon"] == {"pool": "Win-back 15%"}
    assert data["journey"]["settings"]["conversion_window_days"] == 14
    assert data["journey"]["settings"]["holdout_percent"] == 10
    assert [s["name"] for s in data["segments"]] == ["Defecting buyers"]
    assert data["segments"][0]["rules"] == Segment.objects.get(name="Defecting buyers").rules
    assert data["pools"][0]["offer_value"] == "15" and "codes" not in data["pools"][0]
    assert {t["name"] for t in data["templates"]} == {
        "Win-back reminder (email)",
        "Win-back: we miss you (email)",
    }
    assert "coupon.code" in data["templates"][1]["html_body"] + data["templates"][0]["html_body"]


def test_import_with_prefix_creates_everything_and_round_trips(demo_shop):
    journey = Journey.objects.get(name=WINBACK_JOURNEY)
    data = journey_export(journey=journey)
    result = journey_import(data=copy.deepcopy(data), prefix="Copy")
    imported = result.journey
    assert imported.name == f"Copy {WINBACK_JOURNEY}" and imported.status == Journey.Status.DRAFT
    assert _graph(imported) == _graph(journey)
    assert imported.conversion_window_days == 14 and imported.reentry_days == 180
    entry = Step.objects.get(journey=imported, version=None, kind="entry")
    assert entry.config["segment_id"] == Segment.objects.get(name="Copy Defecting buyers").pk
    assert result.created["pools"] == ["Copy Win-back 15%"]
    assert CouponPool.objects.get(name="Copy Win-back 15%").codes_total == 0
    assert any("no codes yet" in note for note in result.notes)
    assert MessageTemplate.objects.filter(name__startswith="Copy ").count() == 2
    again = journey_export(journey=imported)
    assert again["journey"]["steps"] == [
        {
            **s,
            "config": {
                k: f"Copy {v}" if k in ("segment", "pool", "template") else v for k, v in s["config"].items()
            },
        }
        for s in data["journey"]["steps"]
    ]


def test_import_reuses_objects_with_the_same_name(demo_shop):
    journey = Journey.objects.get(name=WINBACK_JOURNEY)
    data = journey_export(journey=journey)
    data["journey"]["name"] = "Second win-back"
    segments, pools = Segment.objects.count(), CouponPool.objects.count()
    result = journey_import(data=data)
    assert Segment.objects.count() == segments and CouponPool.objects.count() == pools
    assert result.reused["segments"] == ["Defecting buyers"]
    assert not result.created.get("pools")
    entry = Step.objects.get(journey=result.journey, version=None, kind="entry")
    assert entry.config["segment_id"] == Segment.objects.get(name="Defecting buyers").pk


def test_import_into_an_installation_without_the_objects_creates_them(demo_shop):
    journey = Journey.objects.get(name=WINBACK_JOURNEY)
    data = journey_export(journey=journey)
    Journey.objects.all().delete()
    Segment.objects.filter(name="Defecting buyers").delete()
    MessageTemplate.objects.filter(name="Win-back reminder (email)").delete()
    result = journey_import(data=data)
    assert result.created["segments"] == ["Defecting buyers"]
    assert result.created["templates"] == ["Win-back reminder (email)"]
    assert Segment.objects.get(name="Defecting buyers").size is not None  # evaluated


def _errors(data) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        journey_import(data=data)
    return caught.value.messages


def test_bad_files_give_clear_errors_and_write_nothing(demo_shop):
    assert _errors([1, 2]) == ["The file is not a JSON object."]
    assert "format: expected 'winback.journey'" in _errors({"format": "x", "version": 1})[0]
    data = journey_export(journey=Journey.objects.get(name=WINBACK_JOURNEY))
    data["journey"]["name"] = "Broken"
    broken = copy.deepcopy(data)
    broken["journey"]["steps"][0]["kind"] = "teleport"
    broken["journey"]["edges"].append({"from": "nowhere", "branch": "next", "to": "x"})
    messages = _errors(broken)
    assert any("unknown kind 'teleport'" in m for m in messages)
    assert any("journey.edges[" in m for m in messages)
    missing = copy.deepcopy(data)
    missing["segments"] = []
    counts = (Journey.objects.count(), Segment.objects.count(), CouponPool.objects.count())
    messages = _errors(missing)
    assert any("segment “Defecting buyers” is not defined" in m for m in messages)
    bad_rules = copy.deepcopy(data)
    bad_rules["journey"]["name"] = "Broken rules"
    bad_rules["segments"][0]["name"] = "Broken segment"
    bad_rules["segments"][0]["rules"] = {"field": "nope", "operator": "eq", "value": 1}
    for step in bad_rules["journey"]["steps"]:
        if step["kind"] == "entry":
            step["config"]["segment"] = "Broken segment"
    assert any(m.startswith("segments “Broken segment”, rules") for m in _errors(bad_rules))
    assert (Journey.objects.count(), Segment.objects.count(), CouponPool.objects.count()) == counts
    existing = copy.deepcopy(data)
    existing["journey"]["name"] = WINBACK_JOURNEY
    assert any("exists already" in m for m in _errors(existing))
