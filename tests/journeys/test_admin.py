"""Admin screens: query-budgeted changelists, actions through services, the explain page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from journeys.models import Enrollment, Journey, Step
from journeys.services import journey_enter, journey_pause, journeys_tick
from tests.journeys.conftest import T0, contacts_make, journey_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(segment_everyone, email_template):
    return journey_build(
        "Admin",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 2}),
            "mail": ("send_email", {"template_id": email_template.pk}),
        },
        [("entry", "next", "wait"), ("wait", "next", "mail")],
        quiet_hours_start=dt.time(22, 0),
        quiet_hours_end=dt.time(7, 0),
        frequency_cap_messages=3,
        frequency_cap_days=7,
        now=T0,
    )


def changelist_queries(admin_client, url, django_assert_max_num_queries, budget):
    with django_assert_max_num_queries(budget):
        response = admin_client.get(url)
    assert response.status_code == 200
    return response


def test_enrollment_changelist_query_count_does_not_grow_with_rows(
    admin_client, journey, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = f"/admin/journeys/enrollment/?journey__id__exact={journey.pk}"
    contacts_make(3, prefix="a")
    journey_enter(journey=journey, now=T0)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    contacts_make(30, prefix="b")
    journey_enter(journey=journey, now=T0 + dt.timedelta(hours=1))
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(url)
    assert response.content.count(b"explain</a>") == 33
    assert len(few.captured_queries) <= 12


def test_journey_changelist_and_change_page(admin_client, journey, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        assert admin_client.get("/admin/journeys/journey/").status_code == 200
    response = admin_client.get(f"/admin/journeys/journey/{journey.pk}/change/")
    assert response.status_code == 200
    assert b"Steps of the draft" in response.content
    assert "next → wait" in response.content.decode()  # the draft graph as a list


def test_actions_pause_and_publish_go_through_services(admin_client, journey):
    response = admin_client.post(
        "/admin/journeys/journey/", {"action": "pause", ACTION_CHECKBOX_NAME: [journey.pk]}, follow=True
    )
    assert response.status_code == 200
    journey.refresh_from_db()
    assert journey.status == Journey.Status.PAUSED
    Step.objects.filter(journey=journey, version=None, name="wait").update(config={"days": 0})
    response = admin_client.post(
        "/admin/journeys/journey/", {"action": "publish", ACTION_CHECKBOX_NAME: [journey.pk]}, follow=True
    )
    assert b"positive duration" in response.content
    assert journey.versions.count() == 1


def test_explain_page_tells_why_and_when(admin_client, journey):
    contacts_make(1, timezone="Europe/Berlin")
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    enrollment = Enrollment.objects.get()
    response = admin_client.get(f"/admin/journeys/enrollment/{enrollment.pk}/explain/")
    text = response.content.decode()
    assert "At step" in text and "wait" in text
    assert "Waiting: waiting until 2026-03-04 12:00" in text
    assert "Entry (segment)" in text  # the history
    journey_pause(journey=journey)
    text = admin_client.get(f"/admin/journeys/enrollment/{enrollment.pk}/explain/").content.decode()
    assert "The journey is paused" in text


def test_explain_mentions_quiet_hours_and_cap_at_a_message_step(admin_client, journey):
    contacts_make(1, timezone="Europe/Berlin")
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    night = dt.datetime(2026, 3, 4, 22, 30, tzinfo=dt.UTC)  # 23:30 in Berlin
    journeys_tick(now=night, deliver="", max_seconds=None)
    enrollment = Enrollment.objects.get()
    assert enrollment.step.name == "mail" and "quiet hours" in enrollment.wait_reason
    from journeys.selectors import enrollment_explain

    x = enrollment_explain(enrollment_id=enrollment.pk, now=night)
    assert any("Quiet hours" in r for r in x.reasons)
    assert any("Frequency cap: 0 of 3" in r for r in x.reasons)


def test_conversion_and_version_changelists(admin_client):
    assert admin_client.get("/admin/journeys/conversion/").status_code == 200
    assert admin_client.get("/admin/journeys/journeyversion/").status_code == 200
    assert admin_client.get("/admin/journeys/auditlog/").status_code == 200
    assert admin_client.get("/admin/journeys/survey/add/").status_code == 200


def test_contact_page_shows_the_contacts_journeys(admin_client, journey):
    (contact,) = contacts_make(1)
    journey_enter(journey=journey, now=T0)
    enrollment = Enrollment.objects.get()
    response = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Admin" in text and f"/admin/journeys/enrollment/{enrollment.pk}/explain/" in text


def test_explain_page_query_budget(admin_client, journey, django_assert_max_num_queries):
    contacts_make(1)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    enrollment = Enrollment.objects.get()
    with django_assert_max_num_queries(8):
        response = admin_client.get(f"/admin/journeys/enrollment/{enrollment.pk}/explain/")
    assert response.status_code == 200


def _chain(name, n, segment_id):
    steps = {"entry": ("entry", {"segment_id": segment_id, "every": 1, "period": "days"})}
    steps.update({f"w{i}": ("wait", {"days": 1}) for i in range(n - 1)})
    names = list(steps)
    return journey_build(
        name, steps, [(a, "next", b) for a, b in zip(names, names[1:], strict=False)], now=T0
    )


def test_journey_change_page_query_count_does_not_grow_with_steps(admin_client, segment_everyone):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = _chain("Small", 3, segment_everyone.pk)
    big = _chain("Big", 50, segment_everyone.pk)
    admin_client.get(f"/admin/journeys/journey/{small.pk}/change/")  # warm the content type cache
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(f"/admin/journeys/journey/{small.pk}/change/").status_code == 200
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(f"/admin/journeys/journey/{big.pk}/change/")
    assert response.status_code == 200 and response.content.count(b"w48") >= 1
    assert len(many.captured_queries) == len(few.captured_queries) <= 16


def test_journey_changelist_query_count_does_not_grow_with_journeys(admin_client, segment_everyone):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _chain("One", 2, segment_everyone.pk)
    admin_client.get("/admin/journeys/journey/")
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/admin/journeys/journey/")
    for i in range(6):
        journey = _chain(f"More {i}", 3, segment_everyone.pk)
        contacts_make(2, prefix=f"m{i}-")
        journey_enter(journey=journey, now=T0)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get("/admin/journeys/journey/")
    assert response.content.count(b"More ") >= 6
    assert len(many.captured_queries) == len(few.captured_queries) <= 10


def test_explain_page_query_budget_at_a_message_step_with_history(
    admin_client, journey, django_assert_max_num_queries
):
    contacts_make(1, timezone="Europe/Berlin")
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    night = dt.datetime(2026, 3, 4, 22, 30, tzinfo=dt.UTC)  # quiet hours: held at the mail step
    journeys_tick(now=night, deliver="", max_seconds=None)
    enrollment = Enrollment.objects.get()
    assert enrollment.step.name == "mail"
    with django_assert_max_num_queries(9):  # + the cap count of the message step
        response = admin_client.get(f"/admin/journeys/enrollment/{enrollment.pk}/explain/")
    assert b"Frequency cap" in response.content


def test_journey_form_requires_complete_settings(admin_client):
    data = {
        "name": "Half set",
        "description": "",
        "reentry": "after_days",
        "reentry_days": "",
        "holdout_percent": "0",
        "frequency_cap_messages": "3",
        "frequency_cap_days": "",
        "frequency_cap_action": "postpone",
        "quiet_hours_start": "22:00",
        "quiet_hours_end": "",
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
        "edges-TOTAL_FORMS": "0",
        "edges-INITIAL_FORMS": "0",
    }
    response = admin_client.post("/admin/journeys/journey/add/", data)
    assert response.status_code == 200 and not Journey.objects.exists()
    errors = response.context["adminform"].form.errors
    assert {"reentry_days", "frequency_cap_days", "quiet_hours_end"} <= set(errors)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (7 * 86400, "7 days"),
        (9000, "2 hours 30 minutes"),
        (86400 + 45, "1 day 45 seconds"),
        (60, "1 minute"),
        (0, "0 seconds"),
    ],
)
def test_durations_read_like_a_person_wrote_them(seconds, text):
    from journeys.steps.base import duration_human

    assert duration_human(seconds) == text


def test_draft_graph_shows_names_and_human_durations(admin_client, segment_everyone, email_template, pool):
    journey = journey_build(
        "Names",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 10, "period": "minutes"}),
            "week": ("wait", {"mode": "duration", "seconds": 7 * 86400}),
            "short": ("wait", {"days": 0, "hours": 2, "minutes": 30}),  # draft as typed, not cleaned
            "coupon": ("assign_coupon", {"pool_id": pool.pk}),
            "mail": ("send_email", {"template_id": email_template.pk}),
            "gone": ("send_email", {"template_id": 999999}),
        },
        [("entry", "next", "week"), ("week", "next", "short"), ("short", "next", "coupon")],
        publish=False,
    )
    text = admin_client.get(f"/admin/journeys/journey/{journey.pk}/change/").content.decode()
    assert "segment “Everyone”, every 10 minutes" in text
    assert "pool “Winback 15”" in text and "template “Winback”" in text
    assert "template 999999 (deleted)" in text
    assert "7 days" in text and "2 hours 30 minutes" in text
    assert "0:00:00" not in text and f"segment {segment_everyone.pk}," not in text


def test_draft_graph_queries_one_per_kind_of_name_not_per_step(
    admin_client, segment_everyone, email_template
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def build(name, n):
        steps = {"entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"})}
        steps.update({f"m{i}": ("send_email", {"template_id": email_template.pk}) for i in range(n)})
        return journey_build(name, steps, [], publish=False)

    small, big = build("Small", 1), build("Big", 30)
    admin_client.get(f"/admin/journeys/journey/{small.pk}/change/")  # warm caches
    with CaptureQueriesContext(connection) as few:
        admin_client.get(f"/admin/journeys/journey/{small.pk}/change/")
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(f"/admin/journeys/journey/{big.pk}/change/")
    assert response.content.decode().count("template “Winback”") == 30
    assert len(many.captured_queries) == len(few.captured_queries)


def test_explain_page_reads_the_wait_and_names_the_template(admin_client, journey):
    contacts_make(1, timezone="Europe/Berlin")
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    enrollment = Enrollment.objects.get()
    url = f"/admin/journeys/enrollment/{enrollment.pk}/explain/"
    text = admin_client.get(url).content.decode()
    assert "— 2 days" in text and "day, 0:00:00" not in text
    night = dt.datetime(2026, 3, 4, 22, 30, tzinfo=dt.UTC)  # quiet hours in Berlin: held at the mail step
    journeys_tick(now=night, deliver="", max_seconds=None)
    enrollment.refresh_from_db()
    assert enrollment.step.name == "mail"
    assert "— template “Winback”" in admin_client.get(url).content.decode()


def test_journey_page_query_count_does_not_grow_with_enrollments_or_messages(
    admin_client, journey, django_assert_num_queries
):
    """The journey page reads the JourneyStat rollup and one grouped message count (by step and status):
    a few queries whatever the journey's size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from journeys.services.stats import journey_stats_refresh
    from messaging.models import Message

    url = f"/admin/journeys/journey/{journey.pk}/change/"
    mail = Step.objects.get(journey=journey, version__isnull=True, name="mail")

    def grow(n: int, prefix: str, status: str) -> None:
        contacts = contacts_make(n, prefix=prefix)
        Message.objects.bulk_create(
            Message(
                channel="email",
                idempotency_key=f"{prefix}{c.pk}",
                status=status,
                journey_id=journey.pk,
                step_id=mail.pk,
                contact=c,
            )
            for c in contacts
        )

    grow(3, "a", "sent")
    grow(1, "c", "failed")  # a failed message adds the step-name query: the same in both counts
    journey_enter(journey=journey, now=T0)
    journey_stats_refresh()
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    grow(30, "b", "failed")
    journey_enter(journey=journey, now=T0 + dt.timedelta(days=1))
    journey_stats_refresh()
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(url)
    assert len(few.captured_queries) <= 16, len(few.captured_queries)
    text = response.content.decode()
    assert "messages: 3 sent, 0 in doubt, 31 failed, 0 waiting, 0 suppressed" in text
    assert f'data-retry-step="{mail.pk}">0 in doubt, 31 failed</a>' in text
