"""Step kinds: branching, contact updates, data requests, audiences, surveys, waits."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from contacts.models import Contact
from journeys.models import AudienceExport, AuditLog, Enrollment, StepRun, Survey, SurveyQuestion
from journeys.services import journey_enter, journeys_tick
from journeys.steps import registry
from journeys.steps.ab_split import pick_variant
from tests.journeys.conftest import T0, contacts_make, journey_build

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def run(segment, steps, edges, *, now=T0, **settings):
    journey = journey_build(
        "Steps",
        {"entry": ("entry", {"segment_id": segment.pk, "every": 1, "period": "days"}), **steps},
        edges,
        now=now,
        **settings,
    )
    journey_enter(journey=journey, now=now)
    journeys_tick(now=now, deliver="now", max_seconds=None)
    return journey


def branch_of(contact, kind):
    return StepRun.objects.get(enrollment__contact=contact, kind=kind).branch


def test_ab_split_is_stable_per_contact_and_follows_percentages(segment_everyone):
    variants = [{"label": "A", "percent": 30}, {"label": "B", "percent": 70}]
    contacts = contacts_make(200)
    journey = run(
        segment_everyone,
        {"split": ("ab_split", {"variants": variants}), "a": ("end", {}), "b": ("end", {})},
        [("entry", "next", "split"), ("split", "A", "a"), ("split", "B", "b")],
    )
    got = dict(Enrollment.objects.values_list("contact_id", "variant"))
    assert all(got[c.pk] == pick_variant(variants, journey.pk, c.pk) for c in contacts)
    share_a = sum(v == "A" for v in got.values()) / len(got)
    assert 0.2 < share_a < 0.4
    with pytest.raises(ValidationError):
        registry["ab_split"].validate(
            {"variants": [{"label": "A", "percent": 30}, {"label": "B", "percent": 30}]}
        )


def test_attribute_split_by_custom_attribute_with_default(segment_everyone):
    active, dormant, unknown = contacts_make(3)
    Contact.objects.filter(pk=active.pk).update(attributes={"referral_activity": "Active"})
    Contact.objects.filter(pk=dormant.pk).update(attributes={"referral_activity": "Dormant"})
    run(
        segment_everyone,
        {
            "split": (
                "attribute_split",
                {"field": "attributes.referral_activity", "values": ["Active", "Dormant"]},
            ),
            "x": ("end", {}),
        },
        [("entry", "next", "split"), ("split", "default", "x")],
    )
    assert [branch_of(c, "attribute_split") for c in (active, dormant, unknown)] == [
        "Active",
        "Dormant",
        "default",
    ]


def test_in_segment_and_update_contact(segment_everyone):
    from segments.models import Segment

    germans = Segment.objects.create(name="DE", rules={"field": "country", "operator": "eq", "value": "DE"})
    german, french = contacts_make(2)
    Contact.objects.filter(pk=german.pk).update(country="DE", attributes={"keep": 1})
    run(
        segment_everyone,
        {
            "de": ("in_segment", {"segment_id": germans.pk}),
            "tag": ("update_contact", {"action": "add_tag", "tag": "german"}),
            "attr": ("update_contact", {"action": "set_attribute", "attribute": "tier", "value": "gold"}),
            "sms": ("update_contact", {"action": "set_consent", "channel": "sms", "value": False}),
        },
        [("entry", "next", "de"), ("de", "yes", "tag"), ("tag", "next", "attr"), ("attr", "next", "sms")],
    )
    german.refresh_from_db()
    french.refresh_from_db()
    assert list(german.tags.values_list("name", flat=True)) == ["german"]
    assert german.attributes == {"keep": 1, "tier": "gold"} and german.sms_consent is False
    assert german.sms_consent_source == "journey"
    assert french.tags.count() == 0 and french.sms_consent is True


def test_message_engagement_reads_opens_of_the_step_message(segment_everyone, email_template):
    from journeys.models import Step
    from messaging.models import Message

    journey = journey_build(
        "Engagement",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "mail": ("send_email", {"template_id": email_template.pk}),
            "wait": ("wait", {"days": 2}),
            "opened": ("engagement", {"step_key": "mailkey", "event": "opened"}),
        },
        [("entry", "next", "mail"), ("mail", "next", "wait"), ("wait", "next", "opened")],
        publish=False,
    )
    Step.objects.filter(journey=journey, name="mail").update(key="mailkey")
    from journeys.services import journey_publish

    journey_publish(journey=journey, now=T0)
    reader, ignorer = contacts_make(2)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="now", max_seconds=None)
    Message.objects.filter(contact=reader).update(opened_at=T0 + DAY)
    journeys_tick(now=T0 + 2 * DAY, deliver="now", max_seconds=None)
    assert branch_of(reader, "engagement") == "yes"
    assert branch_of(ignorer, "engagement") == "no"


def test_anonymize_blanks_personal_data_and_is_audited(segment_everyone):
    (contact,) = contacts_make(1, first_name="Ada", attributes={"x": 1})
    run(segment_everyone, {"forget": ("contact_data", {"mode": "anonymize"})}, [("entry", "next", "forget")])
    contact.refresh_from_db()
    assert (contact.email, contact.first_name, contact.phone, contact.status) == (None, "", "", "anonymized")
    assert contact.attributes == {} and contact.email_consent is False
    log = AuditLog.objects.get()
    assert (log.action, log.contact_id) == ("contact_anonymize", contact.pk)
    assert Enrollment.objects.get().exit_reason == "anonymized"


def test_delete_contact_removes_it_after_the_batch_and_keeps_the_audit(segment_everyone):
    contacts = contacts_make(2)
    run(segment_everyone, {"forget": ("contact_data", {"mode": "delete"})}, [("entry", "next", "forget")])
    assert Contact.objects.count() == 0
    assert set(AuditLog.objects.values_list("contact_id", flat=True)) == {c.pk for c in contacts}


def test_audience_export_hashes_normalised_email_and_phone(segment_everyone, admin_client):
    export = AudienceExport.objects.create(name="Lapsed")
    (contact,) = contacts_make(1, prefix="Ada.")
    Contact.objects.filter(pk=contact.pk).update(email=" Ada.0@Example.com ", phone="+4915100000")
    run(segment_everyone, {"aud": ("audience_add", {"export_id": export.pk})}, [("entry", "next", "aud")])
    member = export.members.get()
    assert member.email_sha256 == hashlib.sha256(b"ada.0@example.com").hexdigest()
    assert member.phone_sha256 == hashlib.sha256(b"+4915100000").hexdigest()
    response = admin_client.get(f"/admin/journeys/audienceexport/{export.pk}/download/")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines() == ["email_sha256,phone_sha256", f"{member.email_sha256},{member.phone_sha256}"]


def test_wait_until_weekday_and_time_in_the_contacts_time_zone(segment_everyone):
    (contact,) = contacts_make(1, timezone="America/New_York")
    run(
        segment_everyone,
        {"wait": ("wait", {"mode": "weekday_time", "weekday": "friday", "time": "10:00"})},
        [("entry", "next", "wait")],
    )
    # T0 is Monday 2026-03-02 12:00 UTC; Friday 10:00 in New York (EST, UTC-5) is 15:00 UTC.
    assert Enrollment.objects.get().due_at == dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC)
    journeys_tick(now=dt.datetime(2026, 3, 6, 14, 59, tzinfo=dt.UTC), deliver="", max_seconds=None)
    assert Enrollment.objects.get().state == "waiting"
    journeys_tick(now=dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC), deliver="", max_seconds=None)
    assert Enrollment.objects.get().state == "completed"


def test_survey_emails_a_link_and_the_hosted_page_stores_answers(segment_everyone, client):
    from messaging.models import MessageTemplate

    template = MessageTemplate.objects.create(
        name="Survey mail",
        channel="email",
        subject="Tell us",
        html_body='<a href="{{ survey_url }}">Answer</a>',
    )
    survey = Survey.objects.create(title="Why did you leave?")
    why = SurveyQuestion.objects.create(
        survey=survey, text="Why?", kind="choice", choices="Price,Quality", attribute="churn_reason"
    )
    score = SurveyQuestion.objects.create(survey=survey, text="Rate us", kind="scale", attribute="nps")
    (contact,) = contacts_make(1)
    run(
        segment_everyone,
        {"ask": ("survey", {"template_id": template.pk, "survey_id": survey.pk})},
        [("entry", "next", "ask")],
    )
    from messaging.models import Message

    url = Message.objects.get().context["survey_url"]
    assert len(mail.outbox) == 1
    path = url.removeprefix("http://testserver")
    assert client.get(path).status_code == 200
    assert client.post(path, {f"q{why.pk}": "Cheaper elsewhere"}).status_code == 200  # not a choice
    contact.refresh_from_db()
    assert contact.attributes == {}
    response = client.post(path, {f"q{why.pk}": "Price", f"q{score.pk}": "4"})
    assert b"Thank you" in response.content
    contact.refresh_from_db()
    assert contact.attributes == {"survey_churn_reason": "Price", "survey_nps": 4}
    assert client.get(path[:-3] + "xx/").status_code == 404


@pytest.mark.parametrize("since_entry", [False, True])
def test_has_purchased_counts_recent_real_purchases_only(segment_everyone, since_entry):
    from contacts.models import Order

    twice, once, cancelled, old, before = contacts_make(5)
    for contact, days_ago, status in [
        (twice, 1, "paid"),
        (twice, 2, "paid"),
        (once, 1, "paid"),
        (cancelled, 1, "cancelled"),
        (cancelled, 1, "refunded"),
        (old, 40, "paid"),
        (old, 45, "paid"),
        (before, 5, "paid"),  # 2 days before entry: inside 30 days, not since entry
        (before, 6, "paid"),
    ]:
        Order.objects.create(
            external_id=f"{contact.pk}-{days_ago}-{status}",
            contact=contact,
            placed_at=T0 + 3 * DAY - days_ago * DAY,
            total=10,
            status=status,
        )
    config = {"more_than": 1, "since_entry": True} if since_entry else {"more_than": 1, "days": 30}
    journey = journey_build(
        "Bought",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 3}),
            "bought": ("has_purchased", config),
        },
        [("entry", "next", "wait"), ("wait", "next", "bought")],
        now=T0,
    )
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None)
    journeys_tick(now=T0 + 3 * DAY, deliver="", max_seconds=None)
    # Two paid orders after entry and within 30 days: yes. Cancelled/refunded don't count; the
    # old ones are before entry and outside the window.
    got = {c.pk: branch_of(c, "has_purchased") for c in (twice, once, cancelled, old, before)}
    expected_before = "no" if since_entry else "yes"
    assert got == {
        twice.pk: "yes",
        once.pk: "no",
        cancelled.pk: "no",
        old.pk: "no",
        before.pk: expected_before,
    }


def test_sms_and_web_push_steps_go_out_through_messaging(segment_everyone, settings):
    from messaging.backends import push, sms
    from messaging.models import MessageTemplate, PushSubscription

    settings.MESSAGING_SMS_BACKEND = "messaging.backends.sms.LocmemBackend"
    settings.MESSAGING_PUSH_BACKEND = "messaging.backends.push.LocmemBackend"
    settings.MESSAGING_SMS_RATE_PER_SECOND = settings.MESSAGING_PUSH_RATE_PER_SECOND = 0
    sms.outbox.clear()
    push.outbox.clear()
    text = MessageTemplate.objects.create(
        name="Text", channel="sms", sms_text="Come back, {{ contact.first_name }}"
    )
    note = MessageTemplate.objects.create(
        name="Note", channel="push", push_title="We miss you", push_body="Hi"
    )
    subscribed, unsubscribed = contacts_make(2, first_name="Ada")
    PushSubscription.objects.create(
        contact=subscribed, endpoint="https://push.example/1", p256dh="k", auth="a"
    )
    run(
        segment_everyone,
        {"sms": ("send_sms", {"template_id": text.pk}), "push": ("send_push", {"template_id": note.pk})},
        [("entry", "next", "sms"), ("sms", "next", "push")],
    )
    assert sorted(m.to for m in sms.outbox) == sorted([subscribed.phone, unsubscribed.phone])
    assert "Come back, Ada" in sms.outbox[0].body
    assert [p.endpoint for p in push.outbox] == ["https://push.example/1"]
    with pytest.raises(ValidationError):  # a step sends only templates of its own channel
        registry["send_sms"].validate({"template_id": note.pk})


def test_wait_until_a_date(segment_everyone):
    contacts_make(1)
    at = "2026-03-10T09:00:00+01:00"
    run(segment_everyone, {"wait": ("wait", {"mode": "date", "at": at})}, [("entry", "next", "wait")])
    assert Enrollment.objects.get().due_at == dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.UTC)


def _survey_link(segment, *, attribute="churn_reason", kind="text"):
    from messaging.models import Message, MessageTemplate

    template = MessageTemplate.objects.create(
        name="Survey mail", channel="email", subject="Tell us", html_body="{{ survey_url }}"
    )
    survey = Survey.objects.create(title="Why did you leave?")
    question = SurveyQuestion.objects.create(survey=survey, text="Why?", kind=kind, attribute=attribute)
    (contact,) = contacts_make(1)
    run(
        segment,
        {"ask": ("survey", {"template_id": template.pk, "survey_id": survey.pk})},
        [("entry", "next", "ask")],
    )
    path = Message.objects.get().context["survey_url"].removeprefix("http://testserver")
    return contact, question, path


def test_survey_answers_are_namespaced_and_never_overwrite_other_attributes(segment_everyone, client):
    # A question whose attribute names an existing (segment-relevant) attribute must not overwrite it.
    contact, question, path = _survey_link(segment_everyone, attribute="vip")
    Contact.objects.filter(pk=contact.pk).update(attributes={"vip": "gold", "ltv_band": "high"})
    assert b"Thank you" in client.post(path, {f"q{question.pk}": "not anymore"}).content
    contact.refresh_from_db()
    assert contact.attributes == {"vip": "gold", "ltv_band": "high", "survey_vip": "not anymore"}


def test_survey_answers_are_size_limited_and_cleaned_of_control_characters(segment_everyone, client):
    contact, question, path = _survey_link(segment_everyone)
    response = client.post(path, {f"q{question.pk}": "a\x00b\x07c" + "x" * 5000})
    assert response.status_code == 200  # a NUL crashed PostgreSQL's jsonb with a 500
    contact.refresh_from_db()
    answer = contact.attributes["survey_churn_reason"]
    assert answer.startswith("abc") and len(answer) == 500


def test_survey_post_needs_the_csrf_token_and_a_valid_signature(segment_everyone):
    from django.test import Client

    contact, question, path = _survey_link(segment_everyone)
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(path, {f"q{question.pk}": "price"}).status_code == 403
    page = strict.get(path)
    token = page.cookies["csrftoken"].value
    assert strict.post(path, {f"q{question.pk}": "price", "csrfmiddlewaretoken": token}).status_code == 200
    token_part = path.rstrip("/").rsplit("/", 1)[1]
    tampered = token_part[:-1] + ("A" if token_part[-1] != "A" else "B")
    assert strict.get(path.replace(token_part, tampered)).status_code == 404
    # A token signed for another purpose (same secret, other salt) is no survey link either.
    from django.core import signing

    forged = signing.dumps({"s": question.survey_id, "c": contact.pk, "e": None}, compress=True)
    assert strict.get(path.replace(token_part, forged)).status_code == 404
    contact.refresh_from_db()
    assert contact.attributes == {"survey_churn_reason": "price"}


def test_audience_export_hashes_national_phone_numbers_as_e164(segment_everyone, settings):
    settings.WINBACK_DEFAULT_PHONE_PREFIX = "+49"
    export = AudienceExport.objects.create(name="National")
    a, b, c = contacts_make(3)
    # Stored without validation (bulk paths skip validators): national, 00-prefixed, garbage.
    Contact.objects.filter(pk=a.pk).update(phone="0151 2345-678")
    Contact.objects.filter(pk=b.pk).update(phone="0049 151 2345678")
    Contact.objects.filter(pk=c.pk).update(phone="call me", email="")
    run(segment_everyone, {"aud": ("audience_add", {"export_id": export.pk})}, [("entry", "next", "aud")])
    hashes = dict(export.members.values_list("contact_id", "phone_sha256"))
    e164 = hashlib.sha256(b"+491512345678").hexdigest()
    assert hashes == {a.pk: e164, b.pk: e164, c.pk: ""}
    assert export.members.get(contact_id=c.pk).email_sha256 == ""


def test_audience_download_needs_permission(segment_everyone, client, django_user_model):
    from django.contrib.auth.models import Permission

    export = AudienceExport.objects.create(name="Secret")
    contacts_make(1)
    run(segment_everyone, {"aud": ("audience_add", {"export_id": export.pk})}, [("entry", "next", "aud")])
    url = f"/admin/journeys/audienceexport/{export.pk}/download/"
    assert client.get(url).status_code == 302  # anonymous: to the login page
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    response = client.get(url)
    assert response.status_code in (302, 403) and not hasattr(response, "streaming_content")
    staff.user_permissions.add(Permission.objects.get(codename="view_audienceexport"))
    response = client.get(url)
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "email_sha256,phone_sha256" and len(lines) == 2
    assert all(len(cell) == 64 for cell in lines[1].split(","))


@pytest.mark.parametrize("mode", ["anonymize", "delete"])
def test_forgetting_a_contact_also_removes_its_addresses_from_messages_push_and_audiences(
    segment_everyone, email_template, mode
):
    from messaging.models import Message, PushSubscription

    export = AudienceExport.objects.create(name="Ads")
    ada, bob = contacts_make(2, first_name="Ada")
    PushSubscription.objects.create(contact=ada, endpoint="https://push.example/ada", p256dh="k", auth="a")
    Contact.objects.filter(pk=ada.pk).update(attributes={"forget": "yes"})  # only Ada asked
    run(
        segment_everyone,
        {
            "aud": ("audience_add", {"export_id": export.pk}),
            "mail": ("send_email", {"template_id": email_template.pk}),
            "wait": ("wait", {"days": 1}),
            "asked": ("attribute_split", {"field": "attributes.forget", "values": ["yes"]}),
            "forget": ("contact_data", {"mode": mode}),
        },
        [
            ("entry", "next", "aud"),
            ("aud", "next", "mail"),
            ("mail", "next", "wait"),
            ("wait", "next", "asked"),
            ("asked", "yes", "forget"),
        ],
    )
    assert Message.objects.filter(contact=ada, to_address=ada.email).exists()
    journeys_tick(now=T0 + 2 * DAY, deliver="", max_seconds=None)
    assert AuditLog.objects.filter(contact_id=ada.pk, action=f"contact_{mode}").count() == 1
    assert not export.members.filter(contact_id=ada.pk).exists()  # hashed email/phone are personal data
    assert export.members.filter(contact_id=bob.pk).exists()
    assert not PushSubscription.objects.filter(contact_id=ada.pk).exists()
    left = Message.objects.filter(contact_id=ada.pk)
    assert not left.exclude(to_address="").exists() and not left.exclude(subject="").exists()
    assert Message.objects.filter(contact=bob, to_address=bob.email).exists()


@pytest.mark.parametrize(
    ("zone", "after", "weekday", "at", "expected_utc"),
    [
        # Spring forward in Berlin (Sun 29 Mar 2026): Monday 09:00 is CEST (+2), not CET.
        ("Europe/Berlin", "2026-03-27T12:00:00+00:00", 0, "09:00", "2026-03-30T07:00:00+00:00"),
        # A time inside the skipped hour lands just after the jump (02:30 CET read as 03:30 CEST).
        ("Europe/Berlin", "2026-03-27T12:00:00+00:00", 6, "02:30", "2026-03-29T01:30:00+00:00"),
        # Fall back (Sun 25 Oct 2026): the repeated 02:30 is taken once, the first time.
        ("Europe/Berlin", "2026-10-23T12:00:00+00:00", 6, "02:30", "2026-10-25T00:30:00+00:00"),
        # New York springs forward on 8 Mar 2026: Monday 09:00 EDT is 13:00 UTC.
        ("America/New_York", "2026-03-06T12:00:00+00:00", 0, "09:00", "2026-03-09T13:00:00+00:00"),
        # No time zone: settings.TIME_ZONE.
        ("", "2026-03-02T12:00:00+00:00", 0, "09:00", None),
    ],
)
def test_wait_until_weekday_time_across_dst_and_without_a_time_zone(
    zone, after, weekday, at, expected_utc, settings
):
    import zoneinfo

    from journeys.steps.base import contact_zone
    from journeys.steps.wait import next_weekday_time

    contact = Contact(timezone=zone)
    start = dt.datetime.fromisoformat(after)
    target = next_weekday_time(start, contact_zone(contact), weekday, dt.time.fromisoformat(at))
    if expected_utc is None:
        local = target.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        assert start < target <= start + 7 * DAY
    else:
        assert target.astimezone(dt.UTC) == dt.datetime.fromisoformat(expected_utc)
    assert target > start


@pytest.mark.parametrize(
    ("zone", "now_utc", "until_utc"),
    [
        ("UTC", "2026-03-02T23:30:00+00:00", "2026-03-03T08:00:00+00:00"),  # after the start: tomorrow's end
        ("UTC", "2026-03-03T03:00:00+00:00", "2026-03-03T08:00:00+00:00"),  # after midnight: today's end
        ("UTC", "2026-03-03T08:00:00+00:00", None),  # the end itself is outside
        ("UTC", "2026-03-03T21:59:00+00:00", None),
        # The night Berlin springs forward: 08:00 CEST is 06:00 UTC.
        ("Europe/Berlin", "2026-03-28T22:30:00+00:00", "2026-03-29T06:00:00+00:00"),
        ("", "2026-03-02T23:30:00+00:00", "settings"),  # no time zone: settings.TIME_ZONE
    ],
)
def test_quiet_hours_across_midnight(zone, now_utc, until_utc, settings):
    import zoneinfo

    from journeys.models import Journey
    from journeys.steps.messages import quiet_until

    journey = Journey(quiet_hours_start=dt.time(22, 0), quiet_hours_end=dt.time(8, 0))
    now = dt.datetime.fromisoformat(now_utc)
    until = quiet_until(journey, Contact(timezone=zone), now)
    if until_utc == "settings":
        local_now = now.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
        inside = local_now.time() >= dt.time(22) or local_now.time() < dt.time(8)
        assert (until is not None) == inside
        if until:
            assert until.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).time() == dt.time(8)
    elif until_utc is None:
        assert until is None
    else:
        assert until.astimezone(dt.UTC) == dt.datetime.fromisoformat(until_utc)


def test_ab_split_and_holdout_on_10k_contacts_hold_their_percentages_and_lift_is_measurable(
    segment_everyone, email_template
):
    from contacts.models import Order
    from contacts.signals import orders_upserted
    from journeys.selectors import journey_report
    from messaging.models import Message

    variants = [{"label": "A", "percent": 20}, {"label": "B", "percent": 30}, {"label": "C", "percent": 50}]
    contacts_make(10_000, prefix="ab")
    journey = journey_build(
        "Big split",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "split": ("ab_split", {"variants": variants}),
            "mail": ("send_email", {"template_id": email_template.pk}),
        },
        [("entry", "next", "split"), ("split", "A", "mail"), ("split", "B", "mail"), ("split", "C", "mail")],
        holdout_percent=10,
        conversion_window_days=30,
        now=T0,
    )
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="", max_seconds=None, batch_size=5000)
    rows = list(Enrollment.objects.values_list("contact_id", "variant", "holdout"))
    assert len(rows) == 10_000
    assert all(v == pick_variant(variants, journey.pk, c) for c, v, _h in rows)  # stable per contact
    for variant in variants:  # within 1.5 points of the configured share
        share = sum(v == variant["label"] for _c, v, _h in rows) / len(rows) * 100
        assert abs(share - variant["percent"]) < 1.5, (variant, share)
    holdout = {c for c, _v, h in rows if h}
    assert abs(len(holdout) / 100 - 10) < 1.5
    messaged = set(Message.objects.filter(journey_id=journey.pk).values_list("contact_id", flat=True))
    assert not messaged & holdout and len(messaged) == 10_000 - len(holdout)
    # Every 10th contact buys; the holdout's purchases count too (the baseline for lift).
    buyers = [c for c, _v, _h in rows][::10]
    Order.objects.bulk_create(
        [Order(external_id=f"ab-{c}", contact_id=c, placed_at=T0 + DAY, total=10) for c in buyers]
    )
    orders_upserted.send(sender=None, order_ids=list(Order.objects.values_list("id", flat=True)))
    groups = {
        (g["holdout"], g["variant"]): (g["converted"], g["n"])
        for g in journey_report(journey=journey)["groups"]
    }
    assert sum(converted for converted, _n in groups.values()) == len(buyers)
    assert sum(n for (h, _v), (_c, n) in groups.items() if h) == len(holdout)
    assert any(h and converted for (h, _v), (converted, _n) in groups.items())


def test_engagement_sees_the_message_sent_before_the_contact_was_migrated(segment_everyone, email_template):
    from journeys.models import Step
    from journeys.services import journey_migrate, journey_publish
    from messaging.models import Message

    journey = journey_build(
        "Engaged across versions",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "mail": ("send_email", {"template_id": email_template.pk}),
            "wait": ("wait", {"days": 2}),
            "opened": ("engagement", {"step_key": "mailkey", "event": "opened"}),
        },
        [("entry", "next", "mail"), ("mail", "next", "wait"), ("wait", "next", "opened")],
        publish=False,
    )
    Step.objects.filter(journey=journey, name="mail").update(key="mailkey")
    v1 = journey_publish(journey=journey, now=T0)
    (reader,) = contacts_make(1)
    journey_enter(journey=journey, now=T0)
    journeys_tick(now=T0, deliver="now", max_seconds=None)
    Message.objects.filter(contact=reader).update(opened_at=T0 + DAY)
    v2 = journey_publish(journey=journey, now=T0 + DAY)
    journey_migrate(
        from_version=v1,
        to_version=v2,
        step_mapping={
            Step.objects.get(version=v1, name="wait").pk: Step.objects.get(version=v2, name="wait").pk
        },
        now=T0 + DAY,
    )
    journeys_tick(now=T0 + 4 * DAY, deliver="now", max_seconds=None)
    assert branch_of(reader, "engagement") == "yes"
