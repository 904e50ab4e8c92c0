"""The audit trail (issue 12, item 4): who, when, what, before and after, for every change people
make to journeys, segments, pools, templates, consents and roles; append-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission

from audit.models import AuditEntry
from audit.services import audit_record, audit_record_many
from audit.tracking import acting_as
from contacts.models import Contact
from contacts.services.roles import ADMINISTRATOR, roles_sync
from coupons.models import CouponPool
from journeys.models import Journey
from messaging.models import MessageTemplate
from segments.models import Segment
from tests.journeys.conftest import T0, journey_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(db):
    segment = Segment.objects.create(name="Everyone", rules={})
    return journey_build(
        "Audited",
        {
            "entry": ("entry", {"segment_id": segment.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 2}),
        },
        [("entry", "next", "wait")],
        now=T0,
    )


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def run_action(client, url: str, action: str, pk: int):
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [pk]}, follow=True)


def test_pause_resume_archive_and_publish_are_recorded_with_the_user(admin_client, admin_user, journey):
    url = "/admin/journeys/journey/"
    for action in ("pause", "resume", "publish", "archive"):
        assert run_action(admin_client, url, action, journey.pk).status_code == 200
    actions = list(
        AuditEntry.objects.filter(action__startswith="journey.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert [a for a in actions if a != "journey.change"] == [
        "journey.pause",
        "journey.resume",
        "journey.publish",
        "journey.archive",
    ]
    pause = entries("journey.pause")[0]
    assert pause.user == admin_user and pause.username == "admin"
    assert pause.object_type == "journeys.journey" and pause.object_id == str(journey.pk)
    assert pause.changes == {"status": [Journey.Status.ACTIVE, "paused"]}
    assert pause.source == "admin"


def test_pool_deactivation_is_recorded(admin_client, admin_user):
    pool = CouponPool.objects.create(name="Spring", offer_kind="percent", offer_value=10)
    run_action(admin_client, "/admin/coupons/couponpool/", "deactivate", pool.pk)
    (entry,) = entries("pool.deactivate")
    assert entry.user == admin_user and entry.object_id == str(pool.pk)


def test_segment_edit_records_before_and_after(admin_client, admin_user):
    segment = Segment.objects.create(name="Lapsed", rules={})
    with acting_as(admin_user, source="test"):
        segment = Segment.objects.get(pk=segment.pk)
        segment.name = "Lapsed 90 days"
        segment.save()
    (entry,) = entries("segment.change")
    assert entry.changes == {"name": ["Lapsed", "Lapsed 90 days"]}
    assert entry.user == admin_user and entry.source == "test"


def test_template_changed_in_the_admin_is_recorded(admin_client, admin_user):
    template = MessageTemplate.objects.create(name="Hi", channel="email", subject="Hi", html_body="<p>x</p>")
    response = admin_client.post(
        f"/admin/messaging/messagetemplate/{template.pk}/change/",
        {
            "name": "Hi",
            "channel": "email",
            "subject": "Hello {{ contact.first_name }}",
            "html_body": "<p>x</p>",
        },
    )
    assert response.status_code == 302
    (entry,) = entries("template.change")
    assert entry.changes["subject"] == ["Hi", "Hello {{ contact.first_name }}"]
    assert entry.user == admin_user


def test_consent_change_is_recorded_but_not_other_contact_fields(admin_user):
    contact = Contact.objects.create(email="ada@example.com", email_consent=True)
    with acting_as(admin_user):
        contact = Contact.objects.get(pk=contact.pk)
        contact.first_name = "Ada"
        contact.email_consent = False
        contact.save()
    (entry,) = entries("consent.change")
    assert entry.changes == {"email_consent": [True, False]}
    assert "ada@example.com" not in str(entry.changes)


def test_role_changes_are_recorded(admin_user, django_user_model):
    roles_sync()
    group = Group.objects.get(name=ADMINISTRATOR)
    user = django_user_model.objects.create_user("mara", "m@example.com", "pw", is_staff=True)
    permission = Permission.objects.get(codename="view_auditentry")
    with acting_as(admin_user):
        user.groups.add(group)
        group.permissions.remove(permission)
    groups_entry = entries("user.groups")[0]
    assert groups_entry.object_id == str(user.pk) and groups_entry.changes == {"added": [ADMINISTRATOR]}
    permissions_entry = entries("role.permissions")[0]
    assert permissions_entry.changes["removed"] and permissions_entry.user == admin_user


def test_changes_by_the_system_need_an_explicit_record():
    """No acting person (a worker, a bulk update): nothing is written behind the service's back."""
    Segment.objects.create(name="Quiet", rules={})
    assert not AuditEntry.objects.exists()


def test_audit_record_for_an_object_already_gone(admin_user):
    """What contacts' erasure hook does: ids and counts, no personal data."""
    entry = audit_record(
        user=admin_user,
        action="contact.anonymize",
        obj=None,
        object_type="contacts.contact",
        object_id=42,
        changes={"source": "admin", "enrollments_ended": 1},
    )
    assert entry.object_id == "42" and entry.username == "admin"
    assert (
        audit_record_many(
            user=None, action="contact.delete", object_type="contacts.contact", object_ids=[1, 2, 3]
        )
        == 3
    )
    assert AuditEntry.objects.filter(action="contact.delete", username="").count() == 3


def test_values_are_stored_as_json(admin_user):
    entry = audit_record(user=admin_user, action="x.y", changes={"when": dt.date(2026, 1, 2), "n": {1, 2}})
    entry.refresh_from_db()
    assert entry.changes == {"when": "2026-01-02", "n": [1, 2]}


def test_the_trail_is_append_only_except_for_superusers(admin_client, django_user_model):
    from django.test import Client

    entry = audit_record(user=None, action="x.y", object_type="a.b", object_id=1)
    roles_sync()
    boss = django_user_model.objects.create_user("boss", "b@example.com", "pw", is_staff=True)
    boss.groups.add(Group.objects.get(name=ADMINISTRATOR))
    client = Client()
    client.force_login(boss)
    assert client.get("/admin/audit/auditentry/").status_code == 200
    assert client.get(f"/admin/audit/auditentry/{entry.pk}/change/").status_code == 200  # a read-only view
    assert client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/audit/auditentry/add/").status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    assert (
        admin_client.post(f"/admin/audit/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 302
    )
    assert not AuditEntry.objects.filter(pk=entry.pk).exists()


def test_admin_filters_by_user_and_object(admin_client, admin_user):
    audit_record(user=admin_user, action="journey.pause", object_type="journeys.journey", object_id=7)
    audit_record(user=None, action="contact.delete", object_type="contacts.contact", object_id=8)
    response = admin_client.get("/admin/audit/auditentry/", {"username": "admin"})
    assert response.status_code == 200
    assert [e.action for e in response.context["cl"].result_list] == ["journey.pause"]
    response = admin_client.get("/admin/audit/auditentry/", {"object_type": "contacts.contact"})
    assert [e.action for e in response.context["cl"].result_list] == ["contact.delete"]
    response = admin_client.get("/admin/audit/auditentry/", {"username": "-"})
    assert [e.action for e in response.context["cl"].result_list] == ["contact.delete"]


def test_migrating_contacts_to_a_new_version_is_recorded(admin_client, admin_user):
    from journeys.models import Step
    from tests.journeys.test_admin_migrate import _two_versions, _url

    journey, v1, v2 = _two_versions(Segment.objects.create(name="All", rules={}))
    old = {s.name: s.pk for s in Step.objects.filter(version=v1)}
    new = {s.name: s.pk for s in Step.objects.filter(version=v2)}
    response = admin_client.post(
        f"{_url(journey)}?source={v1.pk}&target={v2.pk}",
        {f"step_{old['wait_a']}": new["tag"], f"step_{old['wait_b']}": new["tag"]},
    )
    assert response.status_code == 302
    (entry,) = entries("journey.migrate")
    assert entry.changes == {"from_version": 1, "to_version": 2, "moved": 20}
    assert entry.user == admin_user
