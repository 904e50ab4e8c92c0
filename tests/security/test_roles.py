"""Least-privilege roles (issue 12, item 3): every admin changelist, add, change and delete URL, every
admin action and every custom endpoint, for each role (Marketer, Analyst, Administrator)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from audit.services import audit_record
from contacts.services.roles import ADMINISTRATOR, ANALYST, MARKETER, roles_sync
from contacts.services.tokens import apitoken_create
from journeys.models import AuditLog, Enrollment
from messaging.models import DeliveryEvent, Message, MessageTemplate, PushSubscription, ReceivedMail
from segments.models import ContactScore, ScoreChange, ScoringRun, Segment
from tests.factories import CouponFactory, CouponPoolFactory, EventFactory, OrderLineFactory
from tests.journeys.conftest import T0, journey_build

pytestmark = pytest.mark.django_db

CAMPAIGN_APPS = {"contacts", "segments", "coupons", "messaging", "journeys"}
# What the system writes as evidence: marketers never delete it.
EVIDENCE = {
    "messaging.message",
    "messaging.deliveryevent",
    "segments.scorechange",
    "segments.contactscore",
    "segments.scoringrun",
    "segments.segmentsize",
    "journeys.steprun",
    "journeys.conversion",
    "journeys.entryrun",
    "journeys.auditlog",
    "coupons.poolcounterdelta",
}
# ... nor add or edit it.
READ_ONLY_FOR_MARKETERS = {
    "messaging.deliveryevent",
    "segments.scorechange",
    "segments.contactscore",
    "journeys.steprun",
    "journeys.auditlog",
}


def role_allows(role: str, label: str, action: str) -> bool:
    """The policy of the README's roles table, written independently of contacts/services/roles.py."""
    app, model = label.split(".")
    if role == ADMINISTRATOR:
        return label != "audit.auditentry" or action == "view"  # append-only, even for administrators
    if app not in CAMPAIGN_APPS or label == "contacts.apitoken":
        return False  # periodic tasks, users and groups, the audit trail, lockouts, API tokens
    if role == ANALYST:
        return action == "view"
    if action == "delete" and (label in EVIDENCE or model.startswith("suppress")):
        return False
    return not (action in ("add", "change") and label in READ_ONLY_FOR_MARKETERS)


@pytest.fixture
def shop(db, admin_user):
    """At least one row of every model the admin shows, so every object URL can be tried."""
    line = OrderLineFactory()
    contact = line.order.contact
    EventFactory(contact=contact)
    pool = CouponPoolFactory()
    CouponFactory(pool=pool)
    segment = Segment.objects.create(name="Everyone", rules={})
    template = MessageTemplate.objects.create(name="T", channel="email", subject="Hi", html_body="<p>x</p>")
    message = Message.objects.create(
        template=template, contact=contact, channel="email", idempotency_key="m1"
    )
    DeliveryEvent.objects.create(kind="bounce", email="x@example.com", message=message, contact=contact)
    PushSubscription.objects.create(
        contact=contact, endpoint="https://push.example.com/1", p256dh="k", auth="a"
    )
    ReceivedMail.objects.create(raw="Subject: hi\n\nhello", subject="hi")
    run = ScoringRun.objects.create()
    ContactScore.objects.create(contact=contact, run=run)
    ScoreChange.objects.create(contact=contact, run=run, changed_at=T0, field="segment", new="Lost")
    journey = journey_build(
        "Roles",
        {"entry": ("entry", {"segment_id": segment.pk, "every": 1, "period": "days"}), "end": ("end", {})},
        [("entry", "next", "end")],
        now=T0,
    )
    Enrollment.objects.create(journey=journey, version=journey.current_version, contact=contact)
    AuditLog.objects.create(action="contact_delete", contact_id=contact.pk)
    apitoken_create(name="Shop")
    schedule = IntervalSchedule.objects.create(every=1, period="days")
    PeriodicTask.objects.create(name="any", task="coupons.tasks.anything", interval=schedule)
    audit_record(user=admin_user, action="x.y", object_type="a.b", object_id=1)
    return {"contact": contact, "journey": journey, "pool": pool, "segment": segment, "template": template}


@pytest.fixture
def role_clients(django_user_model):
    roles_sync()
    clients = {}
    for role in (MARKETER, ANALYST, ADMINISTRATOR):
        user = django_user_model.objects.create_user(role.lower(), f"{role}@example.com", "pw", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client = Client()
        client.force_login(user)
        clients[role] = (client, user)
    return clients


def _request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_every_admin_url_per_role(shop, role_clients, admin_user):
    superuser = _request_as(admin_user)
    problems = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        obj = model._default_manager.order_by("pk").first()
        # What the admin itself allows anyone (e.g. nobody adds a Message by hand).
        possible = {
            "add": model_admin.has_add_permission(superuser),
            "change": model_admin.has_change_permission(superuser, obj),
            "delete": model_admin.has_delete_permission(superuser, obj),
        }
        for role, (client, _user) in role_clients.items():
            may = {a: role_allows(role, label, a) for a in ("view", "add", "change", "delete")}
            if label == "auth.user" and obj is not None and obj.is_superuser:
                may["change"] = may["delete"] = False  # superusers are managed by superusers only
            checks = [("changelist", base, may["view"] or may["change"])]
            checks.append(("add", f"{base}add/", may["add"] and possible["add"]))
            if obj is not None:
                checks.append(("change", f"{base}{obj.pk}/change/", may["view"] or may["change"]))
                checks.append(("delete", f"{base}{obj.pk}/delete/", may["delete"] and possible["delete"]))
            for what, url, expected in checks:
                status = client.get(url).status_code
                if (status == 200) != expected or status not in (200, 403):
                    problems.append(f"{role} {what} {url}: {status}, expected {'200' if expected else '403'}")
            read_only = obj is not None and may["view"] and not (may["change"] and possible["change"])
            if read_only and b'name="_save"' in client.get(f"{base}{obj.pk}/change/").content:
                problems.append(f"{role} may save {label}")
    assert problems == []


def test_every_admin_action_per_role(shop, role_clients):
    problems = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        for role, (_client, user) in role_clients.items():
            for name, (func, _name, _description) in model_admin.get_actions(_request_as(user)).items():
                needed = set(getattr(func, "allowed_permissions", ()))
                if name == "delete_selected":
                    needed = {"delete"}
                if role == ANALYST and needed - {"view", "export"}:
                    problems.append(f"{role} offered {label}:{name} ({needed})")
                for permission in needed & {"view", "add", "change", "delete"}:
                    if not role_allows(role, label, permission):
                        problems.append(f"{role} offered {label}:{name} needing {permission}")
    assert problems == []


# Every custom admin endpoint and staff view: (url name, path, method, the action it needs).
CUSTOM = {
    "contacts_contact_import": ("/admin/contacts/contact/import/", "get", "contacts.contact", "add"),
    "contacts_product_import": ("/admin/contacts/product/import/", "get", "contacts.product", "add"),
    "contacts_order_import": ("/admin/contacts/order/import/", "get", "contacts.order", "add"),
    "contacts_importjob_progress": (
        "/admin/contacts/importjob/999/progress/",
        "get",
        "contacts.importjob",
        "view",
    ),
    "segments_scoringrun_run_now": (
        "/admin/segments/scoringrun/run-now/",
        "post",
        "segments.scoringrun",
        "add",
    ),
    "segments_segment_export": (
        "/admin/segments/segment/{segment}/export/",
        "get",
        "segments.segment",
        "view",
    ),
    "coupons_couponpool_generate": (
        "/admin/coupons/couponpool/{pool}/generate/",
        "get",
        "coupons.couponpool",
        "change",
    ),
    "coupons_couponpool_import": (
        "/admin/coupons/couponpool/{pool}/import/",
        "get",
        "coupons.couponpool",
        "change",
    ),
    "coupons_couponpool_export": (
        "/admin/coupons/couponpool/{pool}/export/assigned/",
        "get",
        "coupons.couponpool",
        "view",
    ),
    "messaging_messagetemplate_preview": (
        "/admin/messaging/messagetemplate/{template}/preview/",
        "get",
        "messaging.messagetemplate",
        "view",
    ),
    "messaging_messagetemplate_preview_draft": (
        "/admin/messaging/messagetemplate/preview-draft/",
        "post",
        "messaging.messagetemplate",
        "change",
    ),
    "messaging_messagetemplate_send_test": (
        "/admin/messaging/messagetemplate/{template}/send-test/",
        "post",
        "messaging.messagetemplate",
        "change",
    ),
    "messaging_message_rendered": (
        "/admin/messaging/message/{message}/rendered/",
        "get",
        "messaging.message",
        "view",
    ),
    "journeys_journey_migrate": (
        "/admin/journeys/journey/{journey}/migrate/",
        "get",
        "journeys.journey",
        "change",
    ),
    "journeys_enrollment_explain": (
        "/admin/journeys/enrollment/{enrollment}/explain/",
        "get",
        "journeys.enrollment",
        "view",
    ),
    "journeys_audienceexport_download": (
        "/admin/journeys/audienceexport/999/download/",
        "get",
        "journeys.audienceexport",
        "view",
    ),
    "contacts_suppression_lift": (
        "/admin/contacts/suppression/lift/",
        "get",
        "contacts.suppression",
        "change",
    ),
    "contacts_contact_export_data": (
        "/admin/contacts/contact/999/export-data/",
        "get",
        "contacts.contact",
        "view",
    ),
    "auth_user_password_change": ("/admin/auth/user/{user}/password/", "get", "auth.user", "change"),
}


def test_the_custom_endpoint_table_lists_every_custom_admin_url():
    standard = ("changelist", "add", "history", "delete", "change")
    names = set()
    for model, model_admin in admin.site._registry.items():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None)
            if name and not (name.startswith(prefix) and name[len(prefix) :] in standard):
                names.add(name)
    assert names == set(CUSTOM)


def test_every_custom_endpoint_per_role(shop, role_clients):
    values = {
        "segment": shop["segment"].pk,
        "pool": shop["pool"].pk,
        "template": shop["template"].pk,
        "message": Message.objects.get().pk,
        "journey": shop["journey"].pk,
        "enrollment": Enrollment.objects.get().pk,
        "user": role_clients[MARKETER][1].pk,
    }
    problems = []
    for name, (path, method, label, action) in CUSTOM.items():
        url = path.format(**values)
        for role, (client, _user) in role_clients.items():
            status = getattr(client, method)(url).status_code
            allowed = role_allows(role, label, action)
            if allowed and status == 403 or not allowed and status not in (403, 302):
                problems.append(f"{role} {name} {method.upper()} {url}: {status}")
            if not allowed and status == 302:  # a redirect must be to the login page, not a success
                location = getattr(client, method)(url)["Location"]
                if "/login/" not in location:
                    problems.append(f"{role} {name}: redirected to {location}")
    assert problems == []


def test_marketers_cannot_schedule_periodic_tasks(role_clients):
    client, _user = role_clients[MARKETER]
    response = client.post(
        "/admin/django_celery_beat/periodictask/add/",
        {"name": "mass codes", "task": "coupons.tasks.coupons_generate_task", "args": "[1, 100000000]"},
    )
    assert response.status_code == 403
    assert not PeriodicTask.objects.filter(name="mass codes").exists()


def test_marketers_cannot_delete_messages_or_score_history(shop, role_clients):
    client, _user = role_clients[MARKETER]
    message = Message.objects.get()
    assert client.post(f"/admin/messaging/message/{message.pk}/delete/", {"post": "yes"}).status_code == 403
    change = ScoreChange.objects.get()
    assert client.post(f"/admin/segments/scorechange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    assert (
        Message.objects.filter(pk=message.pk).exists() and ScoreChange.objects.filter(pk=change.pk).exists()
    )
