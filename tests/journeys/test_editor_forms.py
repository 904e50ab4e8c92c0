"""Each step kind's side-panel form writes exactly the configuration its kind validates and the engine
reads, and reads it back (initial values) the same way."""

from __future__ import annotations

import pytest

from journeys.editor.forms import form_for
from journeys.editor.forms_actions import FORMS
from journeys.editor.pickers import crontab_next_runs, weekly_crontab, weekly_read
from journeys.models import AudienceExport, Journey, Step, Survey
from journeys.steps import registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def refs(segment_everyone, email_template, pool):
    from messaging.models import MessageTemplate

    return {
        "segment": segment_everyone.pk,
        "template": email_template.pk,
        "sms_template": MessageTemplate.objects.create(name="Text", channel="sms", sms_text="Hi").pk,
        "pool": pool.pk,
        "survey": Survey.objects.create(title="How was it?").pk,
        "export": AudienceExport.objects.create(name="Lookalikes").pk,
    }


CASES = [
    ("entry", {"segment": "segment", "schedule": "interval", "every": "2", "period": "hours", "mode": "new"},
     {"segment_id": "segment", "every": 2, "period": "hours", "mode": "new", "consent": ""}),
    ("entry", {"segment": "segment", "schedule": "crontab", "crontab": "0 9 1 * *", "mode": "everyone"},
     {"segment_id": "segment", "crontab": "0 9 1 * *", "mode": "everyone", "consent": ""}),
    ("entry", {"segment": "segment", "schedule": "interval", "every": "1", "period": "days",
               "mode": "everyone", "start_at": "2026-04-01T09:00", "end_at": "2026-06-30T18:00"},
     {"segment_id": "segment", "every": 1, "period": "days", "mode": "everyone", "consent": "",
      "start_at": "2026-04-01T09:00:00+00:00", "end_at": "2026-06-30T18:00:00+00:00"}),
    ("in_segment", {"segment": "segment"}, {"segment_id": "segment"}),
    ("has_purchased", {"more_than": "1", "window": "days", "days": "30"}, {"more_than": 1, "days": 30}),
    ("has_purchased", {"more_than": "0", "window": "since_entry"}, {"more_than": 0, "since_entry": True}),
    ("attribute_split", {"field": "attribute", "attribute": "tier", "values": "gold\nsilver\n"},
     {"field": "attributes.tier", "values": ["gold", "silver"]}),
    ("attribute_split", {"field": "country", "values": "DE\nAT"},
     {"field": "country", "values": ["DE", "AT"]}),
    ("assign_coupon", {"pool": "pool"}, {"pool_id": "pool"}),
    ("send_email", {"template": "template"}, {"template_id": "template"}),
    ("send_sms", {"template": "sms_template"}, {"template_id": "sms_template"}),
    ("survey", {"template": "template", "survey": "survey"},
     {"template_id": "template", "survey_id": "survey"}),
    ("wait", {"mode": "duration", "amount": "3", "unit": "hours"}, {"mode": "duration", "seconds": 10800}),
    ("wait", {"mode": "weekday_time", "weekday": "4", "time": "18:30"},
     {"mode": "weekday_time", "weekday": 4, "time": "18:30"}),
    ("ab_split", {"label_1": "A", "percent_1": "70", "label_2": "B", "percent_2": "30"},
     {"variants": [{"label": "A", "percent": 70.0}, {"label": "B", "percent": 30.0}]}),
    ("update_contact", {"action": "add_tag", "tag": "vip"}, {"action": "add_tag", "tag": "vip"}),
    ("update_contact", {"action": "set_attribute", "attribute": "tier", "value": "gold"},
     {"action": "set_attribute", "attribute": "tier", "value": "gold"}),
    ("update_contact", {"action": "set_consent", "channel": "sms", "give": "0"},
     {"action": "set_consent", "channel": "sms", "value": False}),
    ("contact_data", {"mode": "delete"}, {"mode": "delete"}),
    ("audience_add", {"export": "export"}, {"export_id": "export"}),
    ("end", {}, {}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "fields", "expected"), CASES)
def test_form_writes_the_config_the_step_kind_validates(refs, kind, fields, expected):
    journey = Journey.objects.create(name=f"Forms {kind}")
    step = Step.objects.create(journey=journey, kind=kind, name="S")
    data = {"step-name": "S", **{f"step-{k}": refs.get(v, v) for k, v in fields.items()}}
    form = form_for(step, data)
    assert form.is_valid(), form.errors
    config = form.to_config()
    expected = {k: refs.get(v, v) if isinstance(v, str) else v for k, v in expected.items()}
    assert config == expected
    assert registry[kind].validate(config) == {**registry[kind].validate(config), **config}
    # Read back: the form shows the same choices again.
    step.config = config
    again = form_for(step, {f"step-{k}": v for k, v in form_for(step).initial.items() if v is not None})
    assert again.is_valid(), again.errors
    assert again.to_config() == config


def test_engagement_form_lists_the_message_steps_of_the_draft(refs):
    journey = Journey.objects.create(name="Engagement")
    mail = Step.objects.create(journey=journey, kind="send_email", name="We miss you")
    check = Step.objects.create(journey=journey, kind="engagement", name="Opened?")
    form = form_for(check, {"step-name": "Opened?", "step-message_step": mail.key, "step-event": "clicked"},
                    draft_steps=[mail, check])  # fmt: skip
    assert ("", "— pick a message step —") in form.fields["message_step"].choices
    assert (mail.key, "We miss you (Send email)") in form.fields["message_step"].choices
    assert form.is_valid() and form.to_config() == {"step_key": mail.key, "event": "clicked"}


def test_weekly_schedule_is_a_crontab_and_reads_back():
    import datetime as dt

    assert weekly_crontab(0, dt.time(9, 30)) == "30 9 * * 1"
    assert weekly_crontab(6, dt.time(18, 0)) == "0 18 * * 0"
    assert weekly_read("30 9 * * 1") == (0, "09:30")
    assert weekly_read("0 18 * * 0") == (6, "18:00")
    assert weekly_read("*/5 * * * *") is None


def test_crontab_next_runs_follow_the_crontab():
    import datetime as dt

    now = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday
    runs = crontab_next_runs("0 9 * * 1", now=now, count=2)
    assert [r.date() for r in runs] == [dt.date(2026, 3, 9), dt.date(2026, 3, 16)]
    assert all((r.hour, r.minute) == (9, 0) for r in runs)
    with pytest.raises(ValueError):
        crontab_next_runs("not a crontab")


def test_every_kind_of_the_registry_has_a_form():
    assert set(registry) <= set(FORMS)
