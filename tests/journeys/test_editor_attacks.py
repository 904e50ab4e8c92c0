"""The editor's endpoints under hostile or broken input: step keys of another journey or of a
published version, a missing draft tag, absurd positions and forged undo snapshots. Each gives a clear
refusal (4xx with a message), never a 500 and never a change outside the journey's draft."""

from __future__ import annotations

import json

import pytest

from journeys.models import Edge, Journey, Step
from journeys.services.editing import POSITION_MAX
from tests.journeys.conftest import journey_build
from tests.journeys.test_editor_endpoints import add, base, edit, graph_of, marketer  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(db):
    return Journey.objects.create(name="Mine")


@pytest.fixture
def theirs(db):
    return Journey.objects.create(name="Theirs")


def test_a_write_without_the_draft_tag_is_refused_as_a_conflict(marketer, mine):  # noqa: F811
    response = marketer.post(base(mine) + "steps/add/", {"kind": "wait"})
    assert response.status_code == 409
    assert response.json()["conflict"] is True
    assert not Step.objects.filter(journey=mine).exists()


def test_step_keys_of_another_journey_are_refused(marketer, mine, theirs):  # noqa: F811
    wait = add(marketer, mine, "wait")
    other = add(marketer, theirs, "wait", x=40, y=40)
    other_end = add(marketer, theirs, "end")
    assert edit(marketer, mine, f"steps/{other['key']}/move/", {"x": 500, "y": 500}).status_code == 400
    assert edit(marketer, mine, f"steps/{other['key']}/remove/", {}).status_code == 400
    connect = {"from": wait["key"], "branch": "next", "to": other_end["key"]}
    assert edit(marketer, mine, "edges/connect/", connect).status_code == 400
    connect = {"from": other["key"], "branch": "next", "to": other_end["key"]}
    assert edit(marketer, mine, "edges/connect/", connect).status_code == 400
    panel = marketer.post(
        base(mine) + f"steps/{other['key']}/",
        {"step-name": "hijacked", "step-days": 1},
        headers={"X-Draft-Etag": graph_of(marketer, mine)["etag"]},
    )
    assert panel.status_code == 200 and b"hijacked" not in panel.content
    theirs_step = Step.objects.get(journey=theirs, key=other["key"])
    assert (theirs_step.x, theirs_step.y, theirs_step.name) == (40, 40, other["name"])
    assert not Edge.objects.exists()


def test_step_keys_of_a_published_version_are_not_the_draft(marketer, segment_everyone):  # noqa: F811
    journey = journey_build(
        "Published",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 3}),
        },
        [("entry", "next", "wait")],
    )
    published = Step.objects.get(journey=journey, version__isnull=False, name="wait")
    Step.objects.filter(journey=journey, version=None, key=published.key).delete()
    response = edit(marketer, journey, f"steps/{published.key}/move/", {"x": 1, "y": 1})
    assert response.status_code == 400
    published.refresh_from_db()
    assert (published.x, published.y) != (1, 1)


@pytest.mark.parametrize("x", ["1e400", "-1e400", "inf", "nan", "12abc", "", str(10**30)])
def test_absurd_positions_are_a_clear_error_or_clamped_never_a_500(marketer, mine, x):  # noqa: F811
    wait = add(marketer, mine, "wait")
    response = edit(marketer, mine, f"steps/{wait['key']}/move/", {"x": x, "y": 10})
    assert response.status_code in (200, 400), response.content
    step = Step.objects.get(journey=mine, key=wait["key"])
    assert 0 <= step.x <= POSITION_MAX
    response = edit(marketer, mine, "steps/add/", {"kind": "end", "x": x, "y": x})
    assert response.status_code in (200, 400), response.content
    assert all(0 <= s.x <= POSITION_MAX and 0 <= s.y <= POSITION_MAX for s in Step.objects.all())


def test_a_forged_undo_snapshot_cannot_store_bad_keys_positions_or_edges(marketer, mine):  # noqa: F811
    entry = add(marketer, mine, "entry")
    wait = add(marketer, mine, "wait")
    steps = [
        {"key": entry["key"], "kind": "entry", "name": "E", "config": {}, "x": 0, "y": 0},
        {"key": wait["key"], "kind": "wait", "name": "W", "config": {}, "x": 10**30, "y": -5},
    ]
    bad_key = {"key": 'x" onfocus="alert(1)', "kind": "end", "name": "X", "config": {}, "x": 0, "y": 0}
    response = edit(
        marketer, mine, "restore/", {"snapshot": json.dumps({"steps": [*steps, bad_key], "edges": []})}
    )
    assert response.status_code == 400
    assert Step.objects.filter(journey=mine).count() == 2
    edges = [
        {"from": wait["key"], "branch": "next", "to": entry["key"]},  # into the entry
        {"from": wait["key"], "branch": "nope", "to": wait["key"]},  # no such branch, to itself
        {"from": entry["key"], "branch": "next", "to": wait["key"]},  # fine
    ]
    response = edit(marketer, mine, "restore/", {"snapshot": json.dumps({"steps": steps, "edges": edges})})
    assert response.status_code == 200, response.content
    assert [(e.from_step.key, e.branch, e.to_step.key) for e in Edge.objects.filter(journey=mine)] == [
        (entry["key"], "next", wait["key"])
    ]
    stored = Step.objects.get(journey=mine, key=wait["key"])
    assert (stored.x, stored.y) == (POSITION_MAX, 0)


@pytest.mark.parametrize("snapshot", ["not json", "[]", '{"steps": 3, "edges": []}', '{"steps": [{"x": 1}]}'])
def test_a_broken_undo_snapshot_is_a_clear_error(marketer, mine, snapshot):  # noqa: F811
    add(marketer, mine, "wait")
    response = edit(marketer, mine, "restore/", {"snapshot": snapshot})
    assert response.status_code == 400
    assert Step.objects.filter(journey=mine).count() == 1


def test_missing_fields_are_a_clear_error(marketer, mine):  # noqa: F811
    assert edit(marketer, mine, "steps/add/", {}).status_code == 400
    assert edit(marketer, mine, "edges/connect/", {"from": "a"}).status_code == 400
    assert edit(marketer, mine, "edges/remove/", {}).status_code == 400
    assert edit(marketer, mine, "restore/", {}).status_code == 400


def test_a_stale_tab_cannot_publish_a_draft_it_has_not_seen(marketer, segment_everyone):  # noqa: F811
    journey = journey_build(
        "Stale",
        {"entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"})},
        [],
        publish=False,
    )
    stale = graph_of(marketer, journey)["etag"]
    add(marketer, journey, "wait")  # another marketer's change (an unreachable step, but a warning-free one)
    Step.objects.filter(journey=journey, kind="wait").delete()
    add(marketer, journey, "end")
    for headers in ({"X-Draft-Etag": stale}, {}):
        response = marketer.post(base(journey) + "publish/", {"confirm": "yes"}, headers=headers)
        assert response.status_code == 409
        assert b"Reload" in response.content
    journey.refresh_from_db()
    assert journey.current_version_id is None
