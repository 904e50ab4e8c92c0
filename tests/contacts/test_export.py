import csv
import io
import json

import pytest
from openpyxl import load_workbook

from contacts.models import Contact
from contacts.services.export import cell_safe

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Anna", "Anna"),
        (None, ""),
        (True, "yes"),
        (12, 12),
    ],
)
def test_cells_that_look_like_formulas_are_escaped(value, expected):
    assert cell_safe(value) == expected


@pytest.fixture
def evil_contacts():
    Contact.objects.create(email="a@example.com", first_name="=cmd|' /C calc'!A0", last_name="+1")
    Contact.objects.create(email="b@example.com", first_name="Bea", last_name="@SUM(1)")
    return Contact.objects.all()


def _export(admin_client, action, ids):
    return admin_client.post(
        "/admin/contacts/contact/", {"action": action, "_selected_action": [str(i) for i in ids]}
    )


def test_csv_export_streams_escaped_cells(admin_client, evil_contacts, django_assert_max_num_queries):
    ids = list(evil_contacts.values_list("pk", flat=True))
    response = _export(admin_client, "export_csv", ids)
    assert response.status_code == 200
    assert response.streaming
    with django_assert_max_num_queries(2):  # the rows come from one streamed SELECT
        body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["external_id", "email", "first_name", "last_name"]
    assert rows[1][2:4] == ["'=cmd|' /C calc'!A0", "'+1"]
    assert rows[2][3] == "'@SUM(1)"


def test_xlsx_export_has_escaped_cells(admin_client, evil_contacts):
    ids = list(evil_contacts.values_list("pk", flat=True))
    response = _export(admin_client, "export_xlsx", ids)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][2] == "'=cmd|' /C calc'!A0"
    assert values[2][3] == "'@SUM(1)"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/contacts/product/",
        "/admin/contacts/order/",
        "/admin/contacts/importjob/",
        "/admin/contacts/event/",
    ],
)
def test_every_list_exports_csv(admin_client, imported_samples, url):
    from contacts.models import Event, ImportJob, Order, Product

    model = {"product": Product, "order": Order, "importjob": ImportJob, "event": Event}[url.split("/")[3]]
    if model is ImportJob:
        ImportJob.objects.create(kind="contacts", original_name="=evil.csv")
    if model is Event:
        Event.objects.create(contact=Contact.objects.first(), kind="site_visit")
    ids = list(model.objects.values_list("pk", flat=True))
    response = admin_client.post(url, {"action": "export_csv", "_selected_action": ids})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(body)))) == len(ids) + 1
    if model is ImportJob:
        assert "'=evil.csv" in body


@pytest.mark.parametrize("value", ['＝HYPERLINK("http://x")', "＋1", "－1", "＠SUM(A1)"])
def test_full_width_formula_signs_are_escaped_too(value):
    assert cell_safe(value) == "'" + value


def test_xlsx_export_survives_control_characters(admin_client):
    contact = Contact.objects.create(email="c@example.com", first_name="Ca\x01rl\x1b", last_name="=1\x0b")
    response = _export(admin_client, "export_xlsx", [contact.pk])
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][2:4] == ["Carl", "'=1"]


def test_contact_export_includes_tags_and_attributes_escaped(admin_client, django_assert_max_num_queries):
    from contacts.models import Tag

    first = Contact.objects.create(email="a@example.com", attributes={"note": "=1+1", "n": 2})
    first.tags.add(Tag.objects.create(name="=cmd|' /C calc'!A0"), Tag.objects.create(name="vip"))
    second = Contact.objects.create(email="b@example.com")
    response = _export(admin_client, "export_csv", [first.pk, second.pk])
    with django_assert_max_num_queries(3):  # the rows, then the tags of each chunk of rows
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header = rows[0]
    tags, attributes = header.index("tags"), header.index("attributes")
    assert rows[1][tags] == "'=cmd|' /C calc'!A0, vip"
    assert json.loads(rows[1][attributes]) == {"note": "=1+1", "n": 2}
    assert (rows[2][tags], rows[2][attributes]) == ("", "{}")
    sheet = load_workbook(
        io.BytesIO(b"".join(_export(admin_client, "export_xlsx", [first.pk]).streaming_content))
    )
    values = [[cell.value for cell in row] for row in sheet.active.iter_rows()]
    assert values[1][tags] == "'=cmd|' /C calc'!A0, vip"


@pytest.mark.parametrize(("value", "expected"), [({"a": "=1"}, '{"a": "=1"}'), (["=x"], '["=x"]')])
def test_json_values_export_as_json_text(value, expected):
    assert cell_safe(value) == expected
