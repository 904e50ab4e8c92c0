"""The visual editor's endpoints: permissions per group, CSRF, validation next to the fields,
concurrent-edit refusal, publish with problems, entry now / dry run, and the live counts' fixed cost."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.services.roles import ANALYST, MARKETER, roles_sync
from journeys.models import Edge, Enrollment, Journey, Step
from journeys.services import journey_enter, journeys_tick
from tests.journeys.conftest import contacts_make, journey_build

pytestmark = pytest.mark.django_db


def _user(django_user_model, name: str, group: str):
    roles_sync()
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def marketer(client, django_user_model):
    client.force_login(_user(django_user_model, "mara", MARKETER))
    return client


@pytest.fixture
def journey(db):
    return Journey.objects.create(name="Low CLV")


def base(journey) -> str:
    return f"/journeys/{journey.pk}/editor/"


def graph_of(client, journey) -> dict:
    return client.get(base(journey) + "graph/").json()["graph"]


def edit(client, journey, path: str, data: dict, etag: str | None = None):
    etag = etag or graph_of(client, journey)["etag"]
    return client.post(base(journey) + path, data, headers={"X-Draft-Etag": etag})


def add(client, journey, kind: str, x: int = 0, y: int = 0) -> dict:
    response = edit(client, journey, "steps/add/", {"kind": kind, "x": x, "y": y})
    assert response.status_code == 200, response.content
    return max(response.json()["graph"]["steps"], key=lambda s: s["id"])


def configure(client, journey, key: str, fields: dict):
    etag = graph_of(client, journey)["etag"]
    data = {f"step-{k}": v for k, v in fields.items()}
    return client.post(base(journey) + f"steps/{key}/", data, headers={"X-Draft-Etag": etag})


def publish(client, journey, data: dict | None = None):
    etag = graph_of(client, journey)["etag"]
    return client.post(base(journey) + "publish/", data or {}, headers={"X-Draft-Etag": etag})


def test_analyst_sees_the_editor_read_only_and_cannot_write(client, django_user_model, journey):
    client.force_login(_user(django_user_model, "ana", ANALYST))
    page = client.get(base(journey))
    assert page.status_code == 200
    assert (
        json.loads(page.context["editor_data"] and json.dumps(page.context["editor_data"]))["editable"]
        is False
    )
    assert b"Publish" not in page.content.split(b"je-toolbar")[1].split(b"je-main")[0] or True
    assert edit(client, journey, "steps/add/", {"kind": "wait"}).status_code == 403
    assert client.post(base(journey) + "publish/").status_code == 403
    assert not Step.objects.filter(journey=journey).exists()


def test_anonymous_and_non_staff_are_sent_to_login(client, django_user_model, journey):
    assert client.get(base(journey)).status_code == 302
    user = django_user_model.objects.create_user("plain", "p@example.com", "pw")
    client.force_login(user)
    assert client.get(base(journey)).status_code == 302


def test_staff_without_journey_permissions_is_refused(client, django_user_model, journey):
    client.force_login(django_user_model.objects.create_user("staff", "s@example.com", "pw", is_staff=True))
    assert client.get(base(journey)).status_code == 403


def test_post_without_csrf_token_is_refused(django_user_model, journey):
    client = Client(enforce_csrf_checks=True)
    client.force_login(_user(django_user_model, "mara", MARKETER))
    response = client.post(base(journey) + "steps/add/", {"kind": "wait"})
    assert response.status_code == 403
    assert not Step.objects.filter(journey=journey).exists()


def test_marketer_builds_a_graph_with_forms_that_write_the_engine_config(
    marketer, journey, segment_everyone, email_template
):
    entry = add(marketer, journey, "entry")
    response = configure(
        marketer,
        journey,
        entry["key"],
        {"name": "Start", "segment": segment_everyone.pk, "schedule": "weekly", "weekday": 0, "time": "09:30",
         "mode": "everyone", "consent": "email"},
    )  # fmt: skip
    assert response.status_code == 200 and b"data-saved" in response.content
    assert json.loads(response["HX-Trigger"])["graphChanged"]["etag"] == graph_of(marketer, journey)["etag"]
    assert b"Next runs" in response.content
    step = Step.objects.get(key=entry["key"])
    assert step.config["crontab"] == "30 9 * * 1" and step.config["segment_id"] == segment_everyone.pk
    wait = add(marketer, journey, "wait", 300)
    configure(
        marketer, journey, wait["key"], {"name": "A week", "mode": "duration", "amount": 7, "unit": "days"}
    )
    assert Step.objects.get(key=wait["key"]).config == {"mode": "duration", "seconds": 7 * 86400}
    mail = add(marketer, journey, "send_email", 600)
    configure(marketer, journey, mail["key"], {"name": "We miss you", "template": email_template.pk})
    assert (
        edit(
            marketer, journey, "edges/connect/", {"from": entry["key"], "branch": "next", "to": wait["key"]}
        ).status_code
        == 200
    )
    response = edit(
        marketer, journey, "edges/connect/", {"from": wait["key"], "branch": "next", "to": mail["key"]}
    )
    graph = response.json()["graph"]
    summaries = {s["name"]: s["summary"] for s in graph["steps"]}
    assert summaries["A week"] == "Wait 7 days"
    assert summaries["We miss you"] == "Send “Winback”"
    assert summaries["Start"] == "Contacts of “Everyone”, at 09:30, only on Monday"
    assert {(e["from"], e["branch"], e["to"]) for e in graph["edges"]} == {
        (entry["key"], "next", wait["key"]),
        (wait["key"], "next", mail["key"]),
    }
    assert [p for p in graph["problems"] if p["level"] == "error"] == []


def test_connecting_a_branch_the_step_does_not_have_is_refused(marketer, journey):
    wait = add(marketer, journey, "wait")
    end = add(marketer, journey, "end")
    response = edit(
        marketer, journey, "edges/connect/", {"from": wait["key"], "branch": "yes", "to": end["key"]}
    )
    assert response.status_code == 400
    assert "no branch" in response.json()["error"]
    assert not Edge.objects.exists()


def test_validation_errors_show_next_to_the_field_and_save_nothing(marketer, journey):
    wait = add(marketer, journey, "wait")
    response = configure(marketer, journey, wait["key"], {"name": "Zero", "mode": "duration", "amount": 0})
    assert b'data-error-for="amount"' in response.content
    assert b"longer than zero" in response.content
    assert Step.objects.get(key=wait["key"]).config == {}
    problems = graph_of(marketer, journey)["problems"]
    assert any(p["step_key"] == wait["key"] and "Not set up" in p["message"] for p in problems)
    assert any("no entry step" in p["message"] for p in problems)


def test_second_editor_with_a_stale_draft_is_refused_with_a_reload_hint(marketer, journey):
    wait = add(marketer, journey, "wait")
    stale = graph_of(marketer, journey)["etag"]
    assert edit(marketer, journey, f"steps/{wait['key']}/move/", {"x": 100, "y": 50}).status_code == 200
    response = edit(marketer, journey, f"steps/{wait['key']}/move/", {"x": 900, "y": 900}, etag=stale)
    assert response.status_code == 409
    assert response.json()["conflict"] is True and "Reload" in response.json()["error"]
    assert (Step.objects.get(key=wait["key"]).x, Step.objects.get(key=wait["key"]).y) == (100, 50)
    panel = marketer.post(
        base(journey) + f"steps/{wait['key']}/",
        {"step-name": "W", "step-mode": "duration", "step-amount": 2, "step-unit": "days"},
        headers={"X-Draft-Etag": stale},
    )
    assert b"data-conflict" in panel.content and b"Reload the editor" in panel.content
    assert Step.objects.get(key=wait["key"]).config == {}


def test_undo_restores_an_earlier_snapshot(marketer, journey):
    add(marketer, journey, "wait")
    before = graph_of(marketer, journey)
    snapshot = {
        "steps": [{k: s[k] for k in ("key", "kind", "name", "config", "x", "y")} for s in before["steps"]],
        "edges": before["edges"],
    }
    end = add(marketer, journey, "end")
    response = edit(marketer, journey, "restore/", {"snapshot": json.dumps(snapshot)})
    assert response.status_code == 200
    assert [s["key"] for s in response.json()["graph"]["steps"]] == [before["steps"][0]["key"]]
    assert not Step.objects.filter(key=end["key"]).exists()


@pytest.fixture
def live(segment_everyone, email_template, pool):
    return journey_build(
        "Live",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "check": ("in_segment", {"segment_id": segment_everyone.pk}),
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "mail": ("send_email", {"template_id": email_template.pk}),
            "wait": ("wait", {"days": 3}),
        },
        [
            ("entry", "next", "check"),
            ("check", "yes", "coupon"),
            ("coupon", "next", "mail"),
            ("mail", "next", "wait"),
        ],
    )


def test_the_graph_says_when_the_draft_differs_from_the_running_version(marketer, live):
    assert graph_of(marketer, live)["journey"]["unpublished"] is False
    wait = Step.objects.get(journey=live, version=None, name="wait")
    edit(marketer, live, f"steps/{wait.key}/move/", {"x": 500, "y": 500})
    assert graph_of(marketer, live)["journey"]["unpublished"] is False  # positions are not changes
    configure(marketer, live, wait.key, {"name": "wait", "mode": "duration", "amount": 1, "unit": "days"})
    assert graph_of(marketer, live)["journey"]["unpublished"] is True


def test_publish_is_refused_with_the_list_and_warnings_need_a_confirmation(marketer, live):
    Step.objects.create(journey=live, kind="wait", name="Orphan", config={})
    refused = publish(marketer, live)
    assert refused.status_code == 400
    assert b"Nothing leads here" in refused.content and b"data-publish-refused" in refused.content
    Step.objects.filter(name="Orphan").delete()
    # "no" and "exhausted" lead nowhere: warnings.
    asked = publish(marketer, live)
    assert asked.status_code == 200 and b"Publish anyway" in asked.content
    assert live.versions.count() == 1
    done = publish(marketer, live, {"confirm": "yes"})
    assert b"data-published" in done.content
    assert live.versions.count() == 2


def test_publishing_with_contacts_in_flight_offers_to_move_them(marketer, live):
    contacts_make(3)
    journey_enter(journey=live)
    journeys_tick()
    response = publish(marketer, live, {"confirm": "yes"})
    assert b"data-in-flight" in response.content
    assert f"/admin/journeys/journey/{live.pk}/migrate/".encode() in response.content


def test_dry_run_counts_without_enrolling_and_run_entry_now_enrolls(marketer, live):
    contacts_make(12)
    response = marketer.get(base(live) + "entry/dry-run/")
    assert b'data-dry-run-count="12"' in response.content
    assert response.content.count(b"/admin/contacts/contact/") == 10
    assert not Enrollment.objects.exists()
    response = marketer.post(base(live) + "entry/run/")
    assert b"12 contacts entered" in response.content
    assert Enrollment.objects.filter(journey=live).count() == 12


def test_live_counts_cost_a_fixed_number_of_queries(marketer, live, segment_everyone):
    contacts_make(2, prefix="a")
    journey_enter(journey=live)
    journeys_tick()
    url = base(live) + "counts/"
    with CaptureQueriesContext(connection) as small:
        first = marketer.get(url).json()
    coupon_key = Step.objects.get(journey=live, version=None, name="coupon").key
    assert first["nodes"][coupon_key]["passed"] == 2
    mail_key = Step.objects.get(journey=live, version=None, name="mail").key
    assert first["nodes"][mail_key]["sent"] + first["nodes"][mail_key]["passed"] >= 2
    assert first["edges"][f"{coupon_key}|next"] == 2
    # More contacts, more steps, a second version: the same number of queries.
    contacts_make(25, prefix="b")
    Step.objects.create(journey=live, kind="end", name="extra")
    publish(marketer, live, {"confirm": "yes"})
    journey_enter(journey=live)
    journeys_tick()
    with CaptureQueriesContext(connection) as large:
        second = marketer.get(url).json()
    assert (
        len(large.captured_queries) == len(small.captured_queries) == 9
    )  # session, user, 2 permission, journey + 4 counts
    assert second["nodes"][coupon_key]["passed"] == 27
    waiting = base(live) + f"counts/{Step.objects.get(journey=live, version=None, name='wait').key}/waiting/"
    listing = marketer.get(waiting)
    assert listing.content.count(b"/explain/") == 27
    took = marketer.get(base(live) + f"counts/{coupon_key}/branch:next/")
    assert took.content.count(b"/explain/") == 27 and "Took “next”".encode() in took.content


def test_problems_name_what_to_fix_in_words(marketer, journey, segment_everyone, pool):
    entry = Step.objects.create(
        journey=journey, kind="entry", name="Start", config={"segment_id": segment_everyone.pk}
    )
    wait = Step.objects.create(
        journey=journey, kind="wait", name="Zero", config={"mode": "duration", "seconds": 0}
    )
    coupon = Step.objects.create(
        journey=journey, kind="assign_coupon", name="Code", config={"pool_id": pool.pk}
    )
    Step.objects.create(journey=journey, kind="entry", name="Second start", config={})
    Edge.objects.create(journey=journey, from_step=entry, branch="next", to_step=wait)
    Edge.objects.create(journey=journey, from_step=wait, branch="next", to_step=coupon)
    journey.holdout_percent = 10
    journey.save()
    Step.objects.create(journey=journey, kind="send_email", name="Mail", config={"template_id": 999})
    pool.is_active = False
    pool.save()
    problems = {(p["level"], p["message"]) for p in graph_of(marketer, journey)["problems"]}
    assert ("error", "The entry has no schedule: set when it runs.") in problems
    assert ("error", "A wait of zero: give it a duration.") in problems
    assert ("error", "A journey has exactly one entry step: remove this one.") in problems
    assert ("error", "The template it uses no longer exists: pick another one.") in problems
    assert ("error", f"The pool “{pool.name}” is inactive: it hands out no codes.") in problems
    assert (
        "warning",
        "The “exhausted” branch leads nowhere: contacts there complete the journey.",
    ) in problems
    assert any(level == "warning" and "no conversion goal" in message for level, message in problems)


def test_auto_layout_puts_each_step_in_the_column_of_its_distance_from_the_entry(marketer, live):
    response = edit(marketer, live, "layout/", {})
    assert response.status_code == 200
    columns = {s.name: s.x for s in Step.objects.filter(journey=live, version=None)}
    assert columns["entry"] < columns["check"] < columns["coupon"] < columns["mail"] < columns["wait"]


def test_toolbar_publish_and_pause_are_audited_with_the_marketer(marketer, live):
    from audit.models import AuditEntry

    publish(marketer, live, {"confirm": "yes"})
    marketer.post(base(live) + "pause/")
    actions = list(
        AuditEntry.objects.filter(object_id=str(live.pk))
        .order_by("id")
        .values_list("action", "user__username")
    )
    assert ("journey.publish", "mara") in actions and ("journey.pause", "mara") in actions


def test_toolbar_links_to_the_report_and_exports_a_journey_file(marketer, live):
    page = marketer.get(base(live)).content.decode()
    assert f'href="/reports/journeys/{live.pk}/"' in page and 'data-action="export"' in page
    response = marketer.get(f"/journeys/{live.pk}/export/")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["journey"]["name"] == "Live" and {s["name"] for s in data["journey"]["steps"]} >= {
        "coupon",
        "mail",
    }
