"""Bad input found in the robustness review: each gets a row error, nothing is written."""

import pytest

from contacts.importing import csv_import, records_import
from contacts.models import Contact, Event, Order, OrderLine

pytestmark = pytest.mark.django_db


def _errors(result):
    return {(e["row"], e["column"]) for e in result.errors}


def test_nul_byte_in_a_cell_is_a_row_error():
    result = csv_import(
        kind="contacts", data=b"external_id,email,first_name\nA1,a@x.com,ab\x00c\nA2,b@x.com,Ok\n"
    )
    assert _errors(result) == {(2, "first_name")}
    assert Contact.objects.count() == 0


def test_nul_byte_in_an_attribute_is_a_row_error():
    result = csv_import(kind="contacts", data=b"external_id,email,attr.note\nA1,a@x.com,x\x00\n")
    assert _errors(result) == {(2, "attr.note")}
    assert Contact.objects.count() == 0


def test_nul_in_event_properties_is_a_row_error():
    result = records_import(
        kind="events", records=[{"email": "a@x.com", "kind": "custom", "properties": {"a": "\x00"}}]
    )
    assert _errors(result) == {(0, "properties")}
    assert Event.objects.count() == 0


def test_quantity_above_the_database_range_is_a_row_error():
    result = csv_import(
        kind="orders",
        data=b"order_id,email,placed_at,sku,quantity,unit_price\nO1,a@x.com,2024-01-01,S1,99999999999999,1\n",
    )
    assert _errors(result) == {(2, "quantity")}
    assert Order.objects.count() == 0


def test_order_total_computed_from_lines_too_large_is_a_row_error():
    result = csv_import(
        kind="orders",
        data=b"order_id,email,placed_at,sku,quantity,unit_price\nO1,a@x.com,2024-01-01,S1,1000000,9999999\n",
    )
    assert _errors(result) == {(2, "unit_price")}
    assert "too large" in result.errors[0]["message"]
    assert (Order.objects.count(), OrderLine.objects.count(), Contact.objects.count()) == (0, 0, 0)


def test_event_message_id_out_of_range_is_a_row_error():
    result = records_import(
        kind="events", records=[{"email": "a@x.com", "kind": "custom", "message_id": 10**30}]
    )
    assert _errors(result) == {(0, "message_id")}
    assert Event.objects.count() == 0


def test_orders_rows_with_conflicting_customers_or_totals_are_row_errors():
    text = (
        "order_id,customer_id,email,placed_at,sku,unit_price,total\n"
        "O1,C1,a@x.com,2024-01-01,S1,3,10\n"
        "O1,C2,b@x.com,2024-01-01,S2,4,10\n"
        "O2,C3,c@x.com,2024-01-01,S1,3,10\n"
        "O2,,,,S2,4,20\n"
        "O3,C4,d@x.com,2024-01-01,S1,3,\n"
        "O3,,,,S2,4,\n"
    )
    result = csv_import(kind="orders", data=text.encode())
    assert _errors(result) == {(3, "customer_id"), (3, "email"), (5, "total")}
    assert "O1" in result.errors[0]["message"] and "row 2" in result.errors[0]["message"]
    assert (Order.objects.count(), Contact.objects.count()) == (0, 0)


def test_a_row_split_by_another_delimiter_than_the_header_is_a_row_error():
    result = csv_import(kind="contacts", data=b"external_id;email\nA1;a@x.com\nA2,b@x.com\n")
    assert _errors(result) == {(3, "")}
    assert "1 cells" in result.errors[0]["message"]
    assert Contact.objects.count() == 0


def test_trailing_empty_cells_and_unknown_columns_are_fine():
    result = csv_import(
        kind="contacts", data=b"external_id,email,shoe_size\nA1,a@x.com,42,,\nA2,b@x.com,41\n"
    )
    assert result.ok, result.errors
    assert Contact.objects.count() == 2


@pytest.mark.parametrize(
    ("kind", "text", "column"),
    [
        ("contacts", "external_id,email,signed_up_at\nA1,a@x.com,2999-01-01\n", "signed_up_at"),
        ("orders", "order_id,email,placed_at,total\nO1,a@x.com,2999-01-01,5\n", "placed_at"),
        ("events", "kind,email,occurred_at\nsite_visit,a@x.com,2999-01-01\n", "occurred_at"),
    ],
)
def test_dates_in_the_future_are_row_errors(kind, text, column):
    result = csv_import(kind=kind, data=text.encode())
    assert _errors(result) == {(2, column)}
    assert "future" in result.errors[0]["message"]
    assert Contact.objects.count() == 0


def test_product_urls_must_be_http():
    result = csv_import(
        kind="products",
        data=b"sku,name,url,image_url\nS1,Hat,javascript:alert(1),https://x.example/i.png\nS2,Cap,https://x.example/c,data:x\n",
    )
    assert _errors(result) == {(2, "url"), (3, "image_url")}


def test_shopify_order_without_email_names_the_order_and_what_to_do():
    text = (
        "Name,Email,Financial Status,Created at,Total,"
        "Lineitem name,Lineitem quantity,Lineitem price,Lineitem sku\n"
        "#1001,,paid,2024-01-01 10:00:00 +0100,10,Hat,1,10,H1\n"
        "#1002,b@x.com,paid,2024-01-01 10:00:00 +0100,10,Hat,1,10,H1\n"
    )
    result = csv_import(kind="orders", data=text.encode())
    assert result.errors == [
        {
            "row": 2,
            "column": "Email",
            "message": "Order #1001 has no customer: Email is required. Orders without one (e.g. "
            "point-of-sale sales in a Shopify export) cannot be linked to a contact: fill in the "
            "email or remove the order's rows.",
        }
    ]
    assert Order.objects.count() == 0


def test_a_header_without_rows_is_one_clear_error():
    result = csv_import(kind="contacts", data=b"external_id,email\n\n")
    assert result.errors == [{"row": 2, "column": "", "message": "The file has a header but no rows."}]


def test_two_rows_for_the_same_contact_merge_later_non_empty_values_win():
    text = (
        "external_id,email,first_name,last_name,tags,attr.a,attr.b\n"
        "A1,a@x.com,First,Smith,vip,1,\n"
        "A1,b@x.com,Second,,newsletter,,2\n"
        ",c@x.com,Carla,,,,\n"
        "A3,c@x.com,,Jones,,,\n"
    )
    result = csv_import(kind="contacts", data=text.encode())
    assert result.ok, result.errors
    assert (result.created, result.updated) == (2, 0)
    rows = Contact.objects.order_by("external_id").values_list(
        "external_id", "email", "first_name", "last_name"
    )
    assert list(rows) == [("A1", "b@x.com", "Second", "Smith"), ("A3", "c@x.com", "Carla", "Jones")]
    first = Contact.objects.get(external_id="A1")
    assert sorted(first.tags.values_list("name", flat=True)) == ["newsletter", "vip"]  # tags add up
    assert first.attributes == {"a": 1, "b": 2}


def test_unknown_fields_of_an_order_line_are_row_errors():
    result = records_import(
        kind="orders",
        records=[{"order_id": "O1", "email": "a@x.com", "placed_at": "2024-01-01",
                  "lines": [{"sku": "S1", "unit_price": 1, "colour": "red"}]}],
    )  # fmt: skip
    assert result.errors == [{"row": 0, "column": "lines.colour", "message": "Unknown field."}]


def test_order_whose_email_belongs_to_another_customer_id_is_a_row_error():
    Contact.objects.create(external_id="X1", email="a@x.com")
    result = csv_import(
        kind="orders",
        data=b"order_id,customer_id,email,placed_at,total\nO1,X9,a@x.com,2024-01-01,3\n",
    )
    assert result.errors == [{"row": 2, "column": "email", "message": "a@x.com belongs to customer X1."}]
    assert (Order.objects.count(), Contact.objects.count()) == (0, 1)


def test_an_unterminated_quote_is_a_row_error_not_a_swallowed_file():
    result = csv_import(
        kind="contacts", data=b'external_id,email,first_name\nA1,a@x.com,"Ann\nA2,b@x.com,Ben\n'
    )
    assert [(e["row"], e["column"]) for e in result.errors] == [(2, "")]
    assert "quote" in result.errors[0]["message"]
    assert Contact.objects.count() == 0


def test_a_cell_over_the_csv_field_limit_is_a_row_error():
    result = csv_import(
        kind="contacts", data=b"external_id,email,first_name\nA1,a@x.com," + b"x" * 200_000 + b"\n"
    )
    assert [(e["row"], e["column"]) for e in result.errors] == [(2, "")]
    assert Contact.objects.count() == 0


def test_old_mac_line_endings_are_read():
    result = csv_import(kind="contacts", data=b"external_id,email\rA1,a@x.com\rA2,b@x.com\r")
    assert result.ok, result.errors
    assert Contact.objects.count() == 2


@pytest.mark.parametrize("stored", ["unsubscribed", "bounced"])
def test_an_import_never_turns_a_suppressed_contact_back_to_active(stored):
    Contact.objects.create(external_id="A1", email="a@x.com", status=stored)
    result = csv_import(kind="contacts", data=b"external_id,email,status,first_name\nA1,a@x.com,active,Ann\n")
    assert result.ok, result.errors
    contact = Contact.objects.get()
    assert (contact.status, contact.first_name) == (stored, "Ann")


def test_status_anonymized_cannot_be_imported():
    result = records_import(kind="contacts", records=[{"email": "a@x.com", "status": "anonymized"}])
    assert [(e["row"], e["column"]) for e in result.errors] == [(0, "status")]
    assert Contact.objects.count() == 0


def test_orders_file_without_an_email_column_is_read():
    result = csv_import(kind="orders", data=b"order_id,customer_id,placed_at,total\nO1,C1,2024-01-01,5\n")
    assert result.ok, result.errors
    assert Order.objects.get().contact.external_id == "C1"


def test_shopify_orders_file_without_email_column_names_it():
    result = csv_import(
        kind="orders", data=b"Name,Created at,Total\n#1,2024-01-01,5\n", format_name="shopify"
    )
    assert [(e["row"], e["column"]) for e in result.errors] == [(1, "Email")]


def test_row_error_messages_do_not_echo_huge_cells():
    result = csv_import(
        kind="orders", data=b"order_id,email,placed_at,total\nO1,a@x.com,2024-01-01," + b"9x" * 50_000 + b"\n"
    )
    assert [(e["row"], e["column"]) for e in result.errors] == [(2, "total")]
    assert len(result.errors[0]["message"]) <= 300


def test_columns_that_are_not_imported_are_named():
    result = csv_import(
        kind="contacts", data=b"external_id,email,emial_consent,attr.x,Notes\nA1,a@x.com,yes,1,n\n"
    )
    assert result.ok
    assert result.ignored_columns == ["emial_consent", "Notes"]


def test_the_import_preview_names_ignored_columns(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("c.csv", b"external_id,email,emial_consent\nA1,a@x.com,yes\n")
    page = admin_client.post("/admin/contacts/contact/import/", {"file": upload, "format": "auto"}).content
    assert "Not imported (unknown columns): emial_consent" in page.decode()


def test_an_order_line_cannot_carry_order_fields():
    result = records_import(
        kind="orders",
        records=[{"order_id": "O1", "email": "a@x.com", "placed_at": "2024-01-01",
                  "lines": [{"sku": "S1", "unit_price": 1, "order_id": "O2", "email": "b@x.com"}]}],
    )  # fmt: skip
    assert [(e["row"], e["column"]) for e in result.errors] == [(0, "lines.email"), (0, "lines.order_id")]
    assert Order.objects.count() == 0


def test_a_repeated_event_creates_nothing_not_even_its_contact():
    event = {"external_id": "E1", "email": "a@x.com", "kind": "custom"}
    records_import(kind="events", records=[event])
    again = records_import(kind="events", records=[{**event, "email": "b@x.com"}])
    assert (again.ok, again.created, again.updated) == (True, 0, 1)
    assert list(Contact.objects.values_list("email", flat=True)) == ["a@x.com"]
