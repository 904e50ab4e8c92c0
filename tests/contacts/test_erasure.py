"""Issue 12: erased people stay erased (suppression list), their traces go; access export, limits."""

import json
import zipfile
from io import BytesIO

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile

from contacts.importing import csv_import, records_import
from contacts.models import Contact, ImportJob, Suppression
from contacts.services.forget import contacts_anonymize, contacts_delete
from contacts.services.suppression import SuppressionLiftError, suppression_lift
from tests.factories import ContactFactory, OrderFactory

pytestmark = pytest.mark.django_db

ROW = (
    b"email,first_name,phone,accepts_email\n"
    b"anna@example.com,Anna,+4915112345678,yes\nben@example.com,Ben,,yes\n"
)


def _erase(mode: str = "anonymize", **fields) -> Contact:
    anna = ContactFactory(email="anna@example.com", phone="+4915112345678", email_consent=True, **fields)
    (contacts_anonymize if mode == "anonymize" else contacts_delete)(contact_ids=[anna.pk], source="admin")
    return anna


@pytest.mark.parametrize("mode", ["anonymize", "delete"])
def test_erasure_adds_keyed_hashes_never_the_plain_values(mode):
    _erase(mode)
    entries = list(Suppression.objects.values("kind", "digest", "mode"))
    assert sorted(e["kind"] for e in entries) == ["email", "phone"] and {e["mode"] for e in entries} == {mode}
    dumped = json.dumps(list(Suppression.objects.values()), default=str)
    assert "anna" not in dumped and "15112345678" not in dumped


def test_reimport_skips_the_erased_person_and_says_so_per_row():
    _erase()
    result = csv_import(kind="contacts", data=ROW)
    assert result.ok and result.created == 1  # Ben only
    assert not Contact.objects.filter(email="anna@example.com").exists()
    assert result.skipped_count == 1
    (skipped,) = result.skipped
    assert skipped["row"] == 2 and skipped["message"].startswith("suppressed (erased on 20")


def test_reimport_by_phone_alone_is_skipped_too():
    _erase()
    result = csv_import(kind="contacts", data=b"external_id,phone\nX1,+49 151 12345678\n")
    assert result.ok and result.created == 0 and result.skipped_count == 1


def test_shopify_orders_of_the_erased_person_are_skipped():
    _erase()
    data = (
        b"Name,Email,Created at,Total,Lineitem sku,Lineitem name,Lineitem quantity,Lineitem price\n"
        b"#1001,anna@example.com,2026-01-05 10:00:00 +0100,20.00,S1,Shirt,1,20.00\n"
    )
    result = csv_import(kind="orders", data=data)
    assert result.ok, result.errors
    assert result.skipped_count == 1 and not Contact.objects.filter(email="anna@example.com").exists()


def test_api_skips_the_erased_person(client):
    from contacts.services.tokens import apitoken_create

    _erase()
    raw = apitoken_create(name="Shop")[1]
    response = client.post(
        "/api/contacts/",
        data=json.dumps(
            [{"email": "ANNA@example.com", "email_consent": True}, {"email": "cleo@example.com"}]
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    body = response.json()
    assert response.status_code == 200 and body["created"] == 1 and body["skipped"] == 1
    assert (
        body["skipped_items"][0]["row"] == 0
        and "suppressed (erased on" in body["skipped_items"][0]["message"]
    )
    assert not Contact.objects.filter(email="anna@example.com").exists()


def test_events_api_does_not_bring_the_erased_person_back():
    _erase()
    result = records_import(
        kind="events",
        records=[{"external_id": "e1", "email": "anna@example.com", "kind": "product_view",
                  "occurred_at": "2026-01-05T10:00:00Z"}],
    )  # fmt: skip
    assert result.ok, result.errors
    assert result.skipped_count == 1 and not Contact.objects.filter(email="anna@example.com").exists()


def test_lifting_the_suppression_needs_a_reason_and_lets_the_person_back(admin_user):
    _erase()
    with pytest.raises(SuppressionLiftError, match="why"):
        suppression_lift(email="anna@example.com", reason="", user=admin_user)
    assert (
        suppression_lift(email="Anna@Example.com", reason="Signed up again, ticket 1234", user=admin_user)
        == 1
    )
    entry = Suppression.objects.get(kind="email")
    assert entry.lifted_by == admin_user and "ticket 1234" in entry.lift_reason
    assert Suppression.objects.get(kind="phone").lifted_at is None  # only what was asked
    result = records_import(kind="contacts", records=[{"email": "anna@example.com"}])
    assert result.created == 1 and not result.skipped
    with pytest.raises(SuppressionLiftError, match="No active"):
        suppression_lift(email="anna@example.com", reason="Signed up again, ticket 1234", user=admin_user)
    # Erased again: the entry is re-armed.
    contacts_anonymize(contact_ids=[Contact.objects.get(email="anna@example.com").pk], source="admin")
    assert Suppression.objects.get(kind="email").lifted_at is None


def test_lift_page_in_the_admin(admin_client):
    from audit.models import AuditEntry

    _erase()
    page = admin_client.get("/admin/contacts/suppression/")
    assert page.status_code == 200 and "Lift for one person" in page.content.decode()
    response = admin_client.post(
        "/admin/contacts/suppression/lift/", {"email": "anna@example.com", "reason": "short"}
    )
    assert "State why" in response.content.decode()
    response = admin_client.post(
        "/admin/contacts/suppression/lift/",
        {"email": "anna@example.com", "reason": "Customer asked to rejoin (ticket 77)"},
    )
    assert response.status_code == 302
    audit = AuditEntry.objects.get(action="suppression.lifted")
    assert "ticket 77" in audit.changes["detail"] and audit.user.username == "admin"


def test_erasure_ends_enrollments_with_reason_erased(segment_everyone):
    from journeys.models import Enrollment
    from journeys.services.entry import journey_enter
    from tests.journeys.conftest import journey_build

    people = [ContactFactory(email=f"p{i}@example.com") for i in range(2)]
    journey = journey_build(
        "Erase",
        {
            "entry": ("entry", {"segment_id": segment_everyone.pk, "every": 1, "period": "days"}),
            "wait": ("wait", {"days": 2}),
        },
        [("entry", "next", "wait")],
    )
    journey_enter(journey=journey)
    assert Enrollment.objects.filter(state__in=Enrollment.IN_FLIGHT).count() == 2
    contacts_anonymize(contact_ids=[people[0].pk], source="admin")
    gone = Enrollment.objects.get(contact=people[0])
    assert (gone.state, gone.exit_reason) == ("exited", "erased") and gone.exited_at
    assert Enrollment.objects.get(contact=people[1]).state in Enrollment.IN_FLIGHT


@pytest.fixture
def segment_everyone(db):
    from segments.models import Segment

    return Segment.objects.create(name="Everyone", rules={})


def test_erasure_scrubs_the_admin_change_log(admin_user):
    anna = ContactFactory(email="anna@example.com")
    other = ContactFactory(email="zed@example.com")
    contact_type = ContentType.objects.get_for_model(Contact)
    LogEntry.objects.create(
        user=admin_user, content_type=contact_type, object_id=str(anna.pk), object_repr="anna@example.com",
        action_flag=CHANGE, change_message="Changed email.",
    )  # fmt: skip
    LogEntry.objects.create(
        user=admin_user, content_type=contact_type, object_id="999",
        object_repr="Email #2 to Anna@Example.com",
        action_flag=CHANGE, change_message='[{"changed": {"fields": ["Status"]}}] anna@example.com',
    )  # fmt: skip
    LogEntry.objects.create(
        user=admin_user, content_type=contact_type, object_id=str(other.pk), object_repr="zed@example.com",
        action_flag=CHANGE, change_message="",
    )  # fmt: skip
    contacts_delete(contact_ids=[anna.pk], source="admin")
    texts = " ".join(f"{e.object_repr} {e.change_message}" for e in LogEntry.objects.all()).lower()
    assert "anna@example.com" not in texts and "[erased]" in texts and "zed@example.com" in texts


def test_erasure_deletes_uploaded_import_files_that_hold_the_email(django_capture_on_commit_callbacks):
    anna = ContactFactory(email="anna@example.com")
    holding, other = ImportJob(kind="contacts", status="done"), ImportJob(kind="contacts", status="done")
    holding.file.save("a.csv", ContentFile(b"email\nANNA@example.com\n"), save=False)
    other.file.save("b.csv", ContentFile(b"email\nzed@example.com\n"), save=False)
    holding.save()
    other.save()
    name = holding.file.name
    with django_capture_on_commit_callbacks(execute=True):
        contacts_anonymize(contact_ids=[anna.pk], source="admin")
    holding.refresh_from_db()
    other.refresh_from_db()
    assert holding.file.name == "" and not other.file.storage.exists(name)
    assert other.file.storage.exists(other.file.name)


def test_erasure_finds_the_email_in_utf16_files_and_across_read_chunks(
    django_capture_on_commit_callbacks, monkeypatch
):
    from contacts.services import erasure

    monkeypatch.setattr(erasure, "READ_CHUNK", 7)  # the email spans many chunks
    anna = ContactFactory(email="anna@example.com")
    jobs = []
    for name, content in (
        ("u.csv", "email\nanna@example.com\n".encode("utf-16")),
        ("c.csv", b"x" * 5 + b"ANNA@example.com"),
    ):
        job = ImportJob(kind="contacts", status="done")
        job.file.save(name, ContentFile(content), save=False)
        job.save()
        jobs.append(job)
    with django_capture_on_commit_callbacks(execute=True):
        contacts_anonymize(contact_ids=[anna.pk], source="admin")
    assert [ImportJob.objects.get(pk=j.pk).file.name for j in jobs] == ["", ""]


def test_erasure_is_audited(admin_user):
    from audit.models import AuditEntry

    anna = ContactFactory(email="anna@example.com")
    contacts_anonymize(contact_ids=[anna.pk], source="admin", user=admin_user)
    entry = AuditEntry.objects.get(action="contact.anonymize")
    assert entry.object_id == str(anna.pk) and entry.user == admin_user
    assert "anna@example.com" not in str(entry.changes) + entry.object_repr


def test_admin_delete_goes_through_erasure(admin_client):
    anna = ContactFactory(email="anna@example.com")
    response = admin_client.post(f"/admin/contacts/contact/{anna.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Contact.objects.exists()
    assert Suppression.objects.filter(kind="email").exists()
    assert not LogEntry.objects.filter(object_repr__icontains="anna@example.com").exists()


def test_access_export_holds_every_section(admin_client):
    from coupons.services import coupon_assign
    from tests.coupons.conftest import make_pool

    anna = ContactFactory(email="anna@example.com", attributes={"shoe": 42}, email_consent=True)
    OrderFactory(contact=anna)
    coupon_assign(pool=make_pool(codes=1), contact=anna)
    response = admin_client.get(f"/admin/contacts/contact/{anna.pk}/export-data/")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    for section in (
        "profile", "consents", "attributes", "tags", "orders", "events", "messages", "coupons",
        "enrollments", "score_history",
    ):  # fmt: skip
        assert section in data, section
    assert data["profile"]["email"] == "anna@example.com" and data["attributes"] == {"shoe": 42}
    assert data["consents"]["email"]["given"] is True and len(data["orders"]) == 1
    assert "lines" in data["orders"][0] and data["coupons"][0]["code"]
    page = admin_client.get(f"/admin/contacts/contact/{anna.pk}/change/").content.decode()
    assert "Export this contact&#x27;s data" in page or "Export this contact's data" in page


def test_access_export_action_zips_several_contacts(admin_client):
    people = [ContactFactory(email=f"p{i}@example.com") for i in range(2)]
    response = admin_client.post(
        "/admin/contacts/contact/",
        {"action": "export_data", "_selected_action": [p.pk for p in people]},
    )
    assert response["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(BytesIO(response.content)).namelist()
    assert sorted(names) == sorted(f"contact-{p.pk}-data.json" for p in people)


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def test_attributes_deeper_than_5_or_over_64kb_are_row_errors(client):
    ok = records_import(kind="contacts", records=[{"email": "a@example.com", "attributes": _nested(5)}])
    assert ok.ok, ok.errors
    deep = records_import(kind="contacts", records=[{"email": "b@example.com", "attributes": _nested(6)}])
    assert not deep.ok and "nested too deeply" in deep.errors[0]["message"]
    hostile = records_import(
        kind="contacts", records=[{"email": "c@example.com", "attributes": _nested(900)}]
    )
    assert not hostile.ok
    big = records_import(
        kind="contacts", records=[{"email": "d@example.com", "attributes": {"a": "x" * 70_000}}]
    )
    assert not big.ok
    many = {f"k{i}": "y" * 5000 for i in range(14)}  # each value fine, the whole too big
    result = records_import(kind="contacts", records=[{"email": "e@example.com", "attributes": many}])
    assert not result.ok and "too large" in result.errors[0]["message"]
    assert not Contact.objects.exclude(email="a@example.com").exists()


def test_attributes_limit_in_the_admin_form(admin_client):
    from contacts.admin import ContactForm

    anna = ContactFactory(email="anna@example.com")
    form_class = type(
        "F", (ContactForm,), {"Meta": type("Meta", (), {"model": Contact, "fields": ["email", "attributes"]})}
    )
    form = form_class(data={"email": "anna@example.com", "attributes": json.dumps(_nested(7))}, instance=anna)
    assert not form.is_valid() and "nested too deeply" in str(form.errors["attributes"])


def test_a_phone_typed_with_spaces_in_the_admin_is_suppressed_in_every_format(admin_client):
    # The admin form stores the phone as typed; imports and the API normalise it to E.164. The keyed
    # hash must be of the same normalised form, or "+33 612 34 56 78" erased comes back as "0033 6…".
    anna = ContactFactory(email="anna@example.com", phone="+33 612 34 56 78")  # 16: the column max
    contacts_anonymize(contact_ids=[anna.pk], source="admin")
    for phone in (b"0033 6 12 34 56 78", b"+33612345678", b"+33 (6) 12-34-56-78"):
        result = csv_import(kind="contacts", data=b"external_id,phone\nX1," + phone + b"\n")
        assert result.ok and result.created == 0 and result.skipped_count == 1, phone
    assert suppression_lift(phone="0033612345678", reason="Asked to be re-added, ticket 42") == 1


def test_erasure_scrubs_the_phone_from_the_change_log_too(admin_user):
    # Message.__str__ is "SMS #5 to +4915112345678": the admin change log names the phone of an SMS.
    anna = ContactFactory(email="anna@example.com", phone="+49 151 12345678")
    contact_type = ContentType.objects.get_for_model(Contact)
    for repr_text in ("SMS #5 to +4915112345678", "SMS #6 to +49 151 12345678"):
        LogEntry.objects.create(
            user=admin_user, content_type=contact_type, object_id="999", object_repr=repr_text,
            action_flag=CHANGE, change_message="",
        )  # fmt: skip
    contacts_anonymize(contact_ids=[anna.pk], source="admin")
    texts = " ".join(LogEntry.objects.values_list("object_repr", flat=True))
    assert "12345678" not in texts and texts.count("[erased]") == 2


def test_bulk_erasure_finds_each_email_in_import_files_however_it_is_written(
    django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    # 10,000 erased people at once: files are searched for the set of addresses in one pass (the file
    # was searched once per email before: about a minute per 5 MB file), and in bounded queries.
    Contact.objects.bulk_create(
        [Contact(email=f"gone{i}@example.com", phone=f"+49151{i:08d}") for i in range(10_000)]
    )
    ids = list(Contact.objects.values_list("pk", flat=True))
    contents = {
        "quoted.csv": b'email,name\n"GONE17@Example.com",A\n',
        "angle.csv": b"email\nGone <gone9999@example.com>.\n",
        "utf16be.csv": "email\ngone5@example.com.\n".encode("utf-16-be"),
        "glued.csv": b"x;xgone3@example.com\n",
        "other.csv": b"email\nzed@example.com\ngone1@example.com.au\nnot-gone17@example.org\n",
    }
    jobs = {}
    for name, content in contents.items():
        job = ImportJob(kind="contacts", status="done")
        job.file.save(name, ContentFile(content), save=False)
        job.save()
        jobs[name] = job
    with (
        django_capture_on_commit_callbacks(execute=True),
        django_assert_max_num_queries(500),
    ):  # SQLite: small insert batches
        assert contacts_anonymize(contact_ids=ids, source="admin") == 10_000
    kept = {name for name, job in jobs.items() if ImportJob.objects.get(pk=job.pk).file.name}
    assert kept == {"other.csv"}
