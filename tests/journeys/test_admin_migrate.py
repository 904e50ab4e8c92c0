"""The admin page that moves contacts in flight to another version (journey_migrate in the browser)."""

from __future__ import annotations

import os
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts.services.roles import MARKETER, roles_sync
from journeys.models import Enrollment, Journey, JourneyVersion, Step
from journeys.services import journey_enter, journey_publish, journeys_tick
from tests.journeys.conftest import T0, contacts_make, journey_build

PASSWORD = "password"  # noqa: S105


def _two_versions(segment) -> tuple[Journey, JourneyVersion, JourneyVersion]:
    """v1: contacts wait at wait_a / wait_b. v2: the tag step adds "v2"; wait_b got a new key."""
    journey = journey_build(
        "Move me",
        {
            "entry": ("entry", {"segment_id": segment.pk, "every": 6, "period": "hours"}),
            "split": (
                "ab_split",
                {"variants": [{"label": "A", "percent": 50}, {"label": "B", "percent": 50}]},
            ),
            "wait_a": ("wait", {"days": 1}),
            "wait_b": ("wait", {"days": 2}),
            "tag": ("update_contact", {"action": "add_tag", "tag": "v1"}),
        },
        [
            ("entry", "next", "split"),
            ("split", "A", "wait_a"),
            ("split", "B", "wait_b"),
            ("wait_a", "next", "tag"),
            ("wait_b", "next", "tag"),
        ],
        now=T0,
    )
    contacts_make(20)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    v1 = journey.current_version
    draft = Step.objects.filter(journey=journey, version=None)
    draft.filter(name="tag").update(config={"action": "add_tag", "tag": "v2"})
    draft.filter(name="wait_b").update(key="wait-b-rebuilt")
    v2 = journey_publish(journey=journey, now=T0)
    journey.refresh_from_db()
    return journey, v1, v2


def _at(version: JourneyVersion) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in Enrollment.objects.filter(version=version, state__in=Enrollment.IN_FLIGHT).values_list(
        "step__name", flat=True
    ):
        counts[name] = counts.get(name, 0) + 1
    return counts


def _url(journey: Journey) -> str:
    return reverse("admin:journeys_journey_migrate", args=[journey.pk])


@pytest.fixture
def moved_journey(segment_everyone):
    return _two_versions(segment_everyone)


@pytest.mark.django_db
def test_page_lists_occupied_steps_with_counts_and_preselects_by_key(admin_client, moved_journey):
    journey, v1, v2 = moved_journey
    at = _at(v1)
    assert set(at) == {"wait_a", "wait_b"}  # both branches are occupied (20 contacts, 50/50)

    change = admin_client.get(reverse("admin:journeys_journey_change", args=[journey.pk]))
    assert _url(journey) in change.content.decode()

    response = admin_client.get(_url(journey))  # defaults: from the old version to the current one
    assert response.status_code == 200
    html = response.content.decode()
    assert "Move contacts to version 2" in html
    assert response.context["source"] == v1 and response.context["target"] == v2
    assert "version 1 (20 in flight)" in html
    rows = {row.step.name: (row.count, field) for row, field in response.context["mapping_form"].rows}
    assert {name: count for name, (count, _field) in rows.items()} == at
    new_wait_a = Step.objects.get(version=v2, name="wait_a")
    assert rows["wait_a"][1].value() == new_wait_a.pk  # same key in both versions
    assert rows["wait_b"][1].value() is None  # its key changed: the marketer must choose
    assert f'<option value="{new_wait_a.pk}" selected>' in html
    offered = {label for value, label in rows["wait_b"][1].field.choices if value}
    assert offered == {str(s) for s in Step.objects.filter(version=v2)}  # the target's steps only
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<div class="breadcrumbs">' in html


@pytest.mark.django_db
def test_submitting_moves_everyone_and_they_continue_on_the_new_version_at_the_next_tick(
    admin_client, moved_journey
):
    journey, v1, v2 = moved_journey
    old = {s.name: s.pk for s in Step.objects.filter(version=v1)}
    new = {s.name: s.pk for s in Step.objects.filter(version=v2)}
    response = admin_client.post(
        f"{_url(journey)}?source={v1.pk}&target={v2.pk}",
        {f"step_{old['wait_a']}": new["tag"], f"step_{old['wait_b']}": new["tag"]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("admin:journeys_journey_change", args=[journey.pk])
    assert "Move me: moved 20 contacts from version 1 to version 2." in response.content.decode()
    assert _at(v1) == {} and _at(v2) == {"tag": 20}

    journeys_tick(now=timezone.now(), deliver="", max_seconds=None)
    assert set(Enrollment.objects.values_list("version", "state")) == {(v2.pk, "completed")}
    assert set(Contact.objects.values_list("tags__name", flat=True)) == {"v2"}


@pytest.mark.django_db
def test_an_incomplete_mapping_shows_the_error_and_moves_nobody(admin_client, moved_journey):
    journey, v1, v2 = moved_journey
    before = _at(v1)
    old_wait_a = Step.objects.get(version=v1, name="wait_a").pk
    new_wait_a = Step.objects.get(version=v2, name="wait_a").pk
    response = admin_client.post(
        f"{_url(journey)}?source={v1.pk}&target={v2.pk}", {f"step_{old_wait_a}": new_wait_a}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'class="errorlist nonfield">.*the mapping omits: wait_b', html)
    assert f"wait_b ({before['wait_b']})" in html
    assert _at(v1) == before and _at(v2) == {}


@pytest.mark.django_db
def test_the_same_version_twice_is_refused_in_the_form(admin_client, moved_journey):
    journey, v1, _v2 = moved_journey
    response = admin_client.get(f"{_url(journey)}?source={v1.pk}&target={v1.pk}")
    assert response.status_code == 200
    assert "Pick two different versions." in response.content.decode()
    assert response.context["mapping_form"] is None


@pytest.mark.django_db
def test_a_view_only_user_gets_403_and_moves_nobody(client, django_user_model, moved_journey):
    journey, v1, v2 = moved_journey
    viewer = django_user_model.objects.create_user("viewer", "v@example.com", PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_journey"))
    client.force_login(viewer)
    assert client.get(reverse("admin:journeys_journey_change", args=[journey.pk])).status_code == 200
    assert client.get(_url(journey)).status_code == 403
    old = Step.objects.get(version=v1, name="wait_a").pk
    new = Step.objects.get(version=v2, name="wait_a").pk
    response = client.post(f"{_url(journey)}?source={v1.pk}&target={v2.pk}", {f"step_{old}": new})
    assert response.status_code == 403
    assert _at(v2) == {}


@pytest.mark.django_db
def test_page_query_count_does_not_grow_with_steps(admin_client, moved_journey, django_assert_num_queries):
    journey, v1, v2 = moved_journey
    # session + user, journey, versions, one GROUP BY of counts, steps of both versions
    with django_assert_num_queries(6):
        response = admin_client.get(f"{_url(journey)}?source={v1.pk}&target={v2.pk}")
    assert len(response.context["mapping_form"].rows) == 2


@pytest.mark.django_db
def test_a_journey_without_contacts_in_flight_says_so_and_an_unknown_one_is_404(admin_client):
    draft = Journey.objects.create(name="Only a draft")
    response = admin_client.get(_url(draft))
    assert response.status_code == 200
    assert "No version published yet." in response.content.decode()
    assert "there is nobody to move" in response.content.decode()
    assert response.context["mapping_form"] is None
    assert admin_client.get(reverse("admin:journeys_journey_migrate", args=[draft.pk + 1])).status_code == 404


# --- In a real browser, as a marketer -----------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_marketer_moves_contacts_to_the_new_version_in_the_browser(
    page, live_server, django_user_model, segment_everyone, tmp_path
):
    from playwright.sync_api import expect

    journey, v1, v2 = _two_versions(segment_everyone)
    roles_sync()
    user = django_user_model.objects.create_user("mara", "mara@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=MARKETER))
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("mara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}{reverse('admin:journeys_journey_change', args=[journey.pk])}")
    page.get_by_role("link", name="Move contacts to another version").click()
    expect(page.locator("h1")).to_have_text("Move contacts to version 2")
    table = page.locator("#step-mapping")
    expect(table).to_contain_text("wait_a")
    expect(table).to_contain_text("wait_b")

    # Leave wait_b unmapped first: the service refuses and nobody moves.
    page.get_by_role("button", name="Move contacts to version 2").click()
    expect(page.locator(".errorlist.nonfield")).to_contain_text("wait_b")
    assert _at(v2) == {}

    page.get_by_label("wait_b").select_option(label="wait_b (Wait)")
    shots = os.environ.get("WB_E2E_SHOTS") or str(tmp_path)
    page.screenshot(path=f"{shots}/journey-migrate.png", full_page=True)
    page.get_by_role("button", name="Move contacts to version 2").click()
    expect(page.locator(".messagelist li.success")).to_contain_text(
        "moved 20 contacts from version 1 to version 2"
    )
    assert _at(v1) == {} and sum(_at(v2).values()) == 20
