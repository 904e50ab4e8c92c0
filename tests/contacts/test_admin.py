import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import ApiToken, Contact, Event, ImportJob, Order, Product, Tag
from contacts.services.tokens import apitoken_authenticate
from contacts.story import _SECTIONS, story_section_register
from tests.contacts.conftest import data, sample

pytestmark = pytest.mark.django_db

# Session + user, then the page's own queries. The cheap paginator asks PostgreSQL's
# planner for an estimate first on unfiltered lists (one more query there).
BASE = 2
ESTIMATE = 1 if connection.vendor == "postgresql" else 0


@pytest.fixture
def shop(imported_samples):
    contact = Contact.objects.get(external_id="C-1001")
    Event.objects.create(contact=contact, kind="site_visit", properties={"path": "/sale"})
    Event.objects.create(contact=contact, kind="email_open")
    ImportJob.objects.create(kind="contacts", original_name="a.csv")
    ApiToken.objects.create(name="Shop", key_hash="x" * 64, prefix="wb_abcde")
    return contact


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        # count, rows, tag filter choices
        ("/admin/contacts/contact/", 3 + ESTIMATE),
        ("/admin/contacts/contact/?q=anna", 3),
        ("/admin/contacts/contact/?status__exact=active&email_consent__exact=1", 3),
        # count, rows, category and brand filter choices
        ("/admin/contacts/product/", 4 + ESTIMATE),
        ("/admin/contacts/order/", 2 + ESTIMATE),
        ("/admin/contacts/order/?q=W-5001", 3),  # + the contact ids matching the term
        ("/admin/contacts/event/", 2 + ESTIMATE),
        ("/admin/contacts/importjob/", 2 + ESTIMATE),
        ("/admin/contacts/apitoken/", 2),  # count, rows
        ("/admin/contacts/tag/", 2),
    ],
)
def test_changelists_have_a_fixed_query_budget(admin_client, shop, django_assert_num_queries, url, queries):
    with django_assert_num_queries(BASE + queries):
        response = admin_client.get(url)
    assert response.status_code == 200


def test_contact_list_does_not_grow_queries_with_rows(admin_client, shop, django_assert_num_queries):
    Contact.objects.bulk_create([Contact(email=f"p{i}@example.com") for i in range(60)])
    with django_assert_num_queries(BASE + 3 + ESTIMATE):
        assert admin_client.get("/admin/contacts/contact/").status_code == 200


def test_contact_page_tells_the_story(admin_client, shop, django_assert_num_queries, monkeypatch):
    # Without other apps' sections: contact, orders with line counts, purchase totals, events,
    # the tags field's value and its widget's labels.
    monkeypatch.setattr("contacts.story._SECTIONS", {})
    admin_client.get(f"/admin/contacts/contact/{shop.pk}/change/")  # warm the content-type cache
    with django_assert_num_queries(BASE + 6):
        response = admin_client.get(f"/admin/contacts/contact/{shop.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "W-5001" in page and "73.70 EUR" in page
    assert "Site visit" in page and "Email opened" in page
    assert "1 purchase" in page


def test_registered_story_sections_render_on_the_contact_page(admin_client, shop, tmp_path, settings):
    (tmp_path / "story_test.html").write_text(
        "<p id='story-test'>Coupons of {{ contact.email }}: {{ section.count }}/{{ count }}</p>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}]
    story_section_register(
        title="Coupons", template="story_test.html", context=lambda c: {"count": 3}, order=10
    )
    try:
        page = admin_client.get(f"/admin/contacts/contact/{shop.pk}/change/").content.decode()
    finally:
        _SECTIONS.pop("story_test.html")
    assert "<h3>Coupons</h3>" in page
    assert "Coupons of anna.schmidt@example.com: 3/3" in page


def test_order_page_shows_lines_inline(admin_client, shop):
    order = Order.objects.get(external_id="W-5001")
    response = admin_client.get(f"/admin/contacts/order/{order.pk}/change/")
    assert response.status_code == 200
    assert "MUG-003" in response.content.decode()


@pytest.mark.parametrize("model", ["contact", "product", "order", "event", "importjob", "apitoken", "tag"])
def test_add_or_change_pages_open(admin_client, shop, model):
    from django.apps import apps

    obj = apps.get_model("contacts", model).objects.first()
    url = f"/admin/contacts/{model}/{obj.pk}/change/"
    assert admin_client.get(url).status_code == 200


def test_import_preview_lists_row_errors_and_imports_nothing(admin_client):
    upload = SimpleUploadedFile("bad.csv", data("contacts_bad_rows.csv"), content_type="text/csv")
    response = admin_client.post("/admin/contacts/contact/import/", {"file": upload, "format": "auto"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported: 4 errors" in page
    assert "&#x27;not-an-email&#x27; is not a valid email address." in page
    assert "confirm-import" not in page
    assert Contact.objects.count() == 0
    assert ImportJob.objects.get().status == ImportJob.Status.FAILED


def test_import_preview_then_confirm(admin_client):
    upload = SimpleUploadedFile("c.csv", sample("winback_contacts.csv"), content_type="text/csv")
    response = admin_client.post("/admin/contacts/contact/import/", {"file": upload, "format": "auto"})
    page = response.content.decode()
    assert "Ready: <b>5</b> new and <b>0</b> updated" in page
    assert "anna.schmidt@example.com" in page
    assert Contact.objects.count() == 0
    job = ImportJob.objects.get()
    response = admin_client.post("/admin/contacts/contact/import/", {"confirm": job.pk})
    assert response.status_code == 302
    assert Contact.objects.count() == 5
    job.refresh_from_db()
    assert (job.status, job.created_rows, job.format) == (ImportJob.Status.DONE, 5, "winback")
    again = admin_client.post("/admin/contacts/contact/import/", {"confirm": job.pk}, follow=True)
    assert "already imported" in again.content.decode()


def test_changelists_link_to_import(admin_client):
    page = admin_client.get("/admin/contacts/order/").content.decode()
    assert "/admin/contacts/order/import/" in page
    page = admin_client.get("/admin/contacts/importjob/").content.decode()
    assert "/admin/contacts/contact/import/" in page and "/admin/contacts/product/import/" in page


def test_large_upload_runs_as_a_background_job(admin_client, settings, django_capture_on_commit_callbacks):
    settings.WINBACK_IMPORT_BACKGROUND_BYTES = 100
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from winback.celery import app

    app.conf.task_always_eager = True
    try:
        upload = SimpleUploadedFile("orders.csv", sample("shopify_orders.csv"), content_type="text/csv")
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                "/admin/contacts/order/import/", {"file": upload, "format": "shopify"}
            )
    finally:
        app.conf.task_always_eager = False
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/contacts/importjob/{job.pk}/change/"
    assert (job.status, job.created_rows, job.total_rows) == (ImportJob.Status.DONE, 3, 4)
    assert Order.objects.count() == 3


def test_import_job_progress_partial(admin_client, django_assert_num_queries):
    job = ImportJob.objects.create(
        kind="contacts", status=ImportJob.Status.RUNNING, phase="writing", total_rows=200, processed_rows=50
    )
    with django_assert_num_queries(BASE + 1):
        response = admin_client.get(f"/admin/contacts/importjob/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "50 of 200 rows written" in page
    assert 'hx-trigger="every 2s"' in page
    assert "HX-Request" in response["Vary"]
    job.status = ImportJob.Status.DONE
    job.save()
    assert (
        "hx-trigger" not in admin_client.get(f"/admin/contacts/importjob/{job.pk}/progress/").content.decode()
    )
    assert (
        "import-job-progress"
        in admin_client.get(f"/admin/contacts/importjob/{job.pk}/change/").content.decode()
    )


def test_creating_an_api_token_shows_it_once(admin_client):
    response = admin_client.post(
        "/admin/contacts/apitoken/add/", {"name": "Shopify", "is_active": "on"}, follow=True
    )
    page = response.content.decode()
    token = ApiToken.objects.get()
    raw = page.split("<code id='api-token'>")[1].split("</code>")[0]
    assert apitoken_authenticate(raw=raw) == token
    assert raw not in admin_client.get(f"/admin/contacts/apitoken/{token.pk}/change/").content.decode()


def test_import_requires_permission(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/contacts/contact/import/").status_code == 403


def test_product_filters_and_search(admin_client, shop):
    response = admin_client.get("/admin/contacts/product/?q=TEE-001")
    assert "Organic Cotton Tee" in response.content.decode()
    assert Product.objects.count() == 4


def _sql(queries) -> str:
    return "\n".join(q["sql"] for q in queries)


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("/admin/contacts/order/?q=W-5001", "W-5001"),
        ("/admin/contacts/order/?q=anna.schmidt@example.com", "W-5001"),
        ("/admin/contacts/order/?q=C-1001", "W-5001"),
        ("/admin/contacts/event/?q=anna.schmidt@example.com", "Site visit"),
    ],
)
def test_searches_by_email_and_ids_use_exact_indexed_lookups(admin_client, shop, url, found):
    # istartswith/iexact compile to LIKE / UPPER(...) which no index serves at 1M rows.
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url)
    assert found in response.content.decode()
    searched = _sql(queries).upper()
    assert "LIKE" not in searched and "UPPER(" not in searched


def test_contact_search_by_last_name_prefix(admin_client, shop):
    assert "anna.schmidt@example.com" in admin_client.get("/admin/contacts/contact/?q=schm").content.decode()


def test_contact_autocomplete_is_ordered(admin_client, shop, recwarn):
    response = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "contacts", "model_name": "order", "field_name": "contact", "term": "schm"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Anna Schmidt"]
    assert not [w for w in recwarn if "UnorderedObjectListWarning" in str(w.category)]


def test_contact_page_with_10000_orders_reads_only_the_latest(admin_client, shop, monkeypatch):
    monkeypatch.setattr("contacts.story._SECTIONS", {})
    Order.objects.bulk_create(
        [
            Order(contact=shop, external_id=f"BULK-{i}", placed_at=shop.created_at, total=1)
            for i in range(10_000)
        ],
        batch_size=2000,
    )
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(f"/admin/contacts/contact/{shop.pk}/change/")
    assert response.status_code == 200
    assert len(re.findall(r"/admin/contacts/order/\d+/change/", response.content.decode())) == 10
    # The latest orders are picked by the (contact, placed_at) index, not by grouping every order.
    listed = [q["sql"] for q in queries if "LIMIT 10" in q["sql"] and "contacts_order" in q["sql"]]
    assert listed and 'GROUP BY "contacts_order"' not in listed[0]


def test_contact_tag_filter_lists_a_bounded_number_of_tags(admin_client, shop, django_assert_num_queries):
    Tag.objects.bulk_create([Tag(name=f"tag-{i:04d}") for i in range(300)])
    response = admin_client.get("/admin/contacts/contact/")
    page = response.content.decode()
    assert "tag-0000" in page and "tag-0299" not in page
    vip = Tag.objects.get(name="vip").pk  # sorts after the first 100: still listed once chosen
    page = admin_client.get(f"/admin/contacts/contact/?tags__id__exact={vip}").content.decode()
    assert "anna.schmidt@example.com" in page and f'?tags__id__exact={vip}">vip</a>' in page


def test_adding_a_contact_whose_email_differs_only_in_case_is_a_form_error(admin_client, shop):
    response = admin_client.post(
        "/admin/contacts/contact/add/",
        {"email": "ANNA.Schmidt@Example.com", "status": "active", "attributes": "{}"},
    )
    assert response.status_code == 200  # the form again, with the error; not a 500
    assert "Contact with this Email already exists" in response.content.decode()
    assert Contact.objects.filter(email="anna.schmidt@example.com").count() == 1


def test_control_characters_in_imported_text_are_row_errors():
    from contacts.importing import csv_import

    result = csv_import(kind="contacts", data=b"external_id,email,first_name\nA1,a@x.com,Ca\x01rl\n")
    assert [(e["row"], e["column"]) for e in result.errors] == [(2, "first_name")]


def test_import_confirm_with_a_bad_job_id_is_404(admin_client):
    response = admin_client.post("/admin/contacts/contact/import/", {"confirm": "abc"})
    assert response.status_code == 404


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL query plans")
@pytest.mark.parametrize("term", ["Anna.Schmidt@Example.com", "C-1001", "anna.schmidt@ex", "c-10"])
def test_contact_search_by_email_prefix_or_id_can_use_indexes(shop, term):
    from django.contrib import admin as django_admin
    from django.db import transaction

    from contacts.admin import ContactAdmin

    queryset, _ = ContactAdmin(Contact, django_admin.site).get_search_results(
        None, Contact.objects.all(), term
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # so a usable index is used even on a tiny table
        plan = queryset.explain()
    # Each index scan has a condition: a default-opclass index would be read whole for LIKE 'x%'.
    scans = plan.count("Index Scan")
    assert "Seq Scan" not in plan and scans and plan.count("Index Cond") == scans, plan
    assert queryset.filter(pk=shop.pk).exists() == (term != "c-10")


def test_contact_form_rejects_an_invalid_email(admin_client):
    response = admin_client.post(
        "/admin/contacts/contact/add/", {"email": "not an email", "status": "active", "attributes": "{}"}
    )
    assert response.status_code == 200
    assert "is not a valid email address" in response.content.decode()
    assert Contact.objects.count() == 0
