from decimal import Decimal

import pytest

from contacts.importing import csv_import
from contacts.models import Contact, Order, OrderLine, Product
from contacts.signals import orders_upserted
from tests.contacts.conftest import data, sample

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        list(Contact.objects.order_by("pk").values_list("pk", "email", "first_name", "email_consent")),
        list(Order.objects.order_by("pk").values_list("pk", "total")),
        OrderLine.objects.count(),
        Product.objects.count(),
    )


@pytest.mark.parametrize(
    ("kind", "name", "fmt", "rows"),
    [
        ("contacts", "winback_contacts.csv", "winback", 5),
        ("products", "winback_products.csv", "winback", 4),
        ("orders", "winback_orders.csv", "winback", 6),
        ("contacts", "shopify_customers.csv", "shopify", 3),
        ("orders", "shopify_orders.csv", "shopify", 4),
    ],
)
def test_each_sample_file_imports_cleanly(kind, name, fmt, rows):
    result = csv_import(kind=kind, data=sample(name))
    assert result.ok, result.errors
    assert result.format == fmt
    assert result.total_rows == rows
    assert result.created > 0


def test_winback_contacts_are_normalised_with_consent_tags_and_attributes():
    csv_import(kind="contacts", data=sample("winback_contacts.csv"))
    ben = Contact.objects.get(external_id="C-1002")
    assert ben.email == "ben.miller@example.com"
    assert ben.phone == "+447700900123"
    assert ben.email_consent and ben.sms_consent and not ben.push_consent
    assert ben.email_consent_source == Contact.ConsentSource.IMPORT
    assert ben.email_consent_at is not None
    assert ben.attributes == {"referral_successful_count": 0, "referral_activity": "Dormant"}
    anna = Contact.objects.get(external_id="C-1001")
    assert anna.phone == "+491512345678"
    assert sorted(anna.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    assert Contact.objects.get(email="eva.novak@example.com").external_id is None
    assert Contact.objects.get(external_id="C-1004").status == Contact.Status.UNSUBSCRIBED


def test_reimport_updates_instead_of_duplicating():
    first = csv_import(kind="contacts", data=sample("winback_contacts.csv"))
    changed = sample("winback_contacts.csv").replace(
        b"C-1001,anna.schmidt@example.com,Anna", b"C-1001,anna.schmidt@example.com,Annika"
    )
    second = csv_import(kind="contacts", data=changed)
    assert (first.created, first.updated) == (5, 0)
    assert (second.created, second.updated) == (0, 5)
    assert Contact.objects.count() == 5
    assert Contact.objects.get(external_id="C-1001").first_name == "Annika"


def test_unchanged_consent_keeps_its_original_timestamp():
    csv_import(kind="contacts", data=sample("winback_contacts.csv"))
    stamped = Contact.objects.get(external_id="C-1001").email_consent_at
    csv_import(kind="contacts", data=sample("winback_contacts.csv"))
    assert Contact.objects.get(external_id="C-1001").email_consent_at == stamped


def test_contact_without_id_is_matched_by_email_and_gets_the_id():
    Contact.objects.create(email="anna.schmidt@example.com", first_name="A")
    csv_import(kind="contacts", data=sample("winback_contacts.csv"))
    anna = Contact.objects.get(email="anna.schmidt@example.com")
    assert anna.external_id == "C-1001"
    assert anna.first_name == "Anna"
    assert Contact.objects.count() == 5


def test_email_belonging_to_another_customer_id_is_a_row_error():
    Contact.objects.create(email="anna.schmidt@example.com", external_id="OTHER-1")
    before = _snapshot()
    result = csv_import(kind="contacts", data=sample("winback_contacts.csv"))
    assert not result.ok
    assert result.errors == [
        {"row": 2, "column": "email", "message": "anna.schmidt@example.com belongs to customer OTHER-1."}
    ]
    assert _snapshot() == before


def test_missing_required_column_is_one_clear_error():
    result = csv_import(kind="contacts", data=data("contacts_missing_email.csv"))
    assert not result.ok
    assert len(result.errors) == 1
    assert "Missing required column" in result.errors[0]["message"]
    assert '"external_id" or "email"' in result.errors[0]["message"]
    assert Contact.objects.count() == 0


def test_row_errors_name_row_and_column_and_leave_the_database_unchanged(imported_samples):
    before = _snapshot()
    result = csv_import(kind="contacts", data=data("contacts_bad_rows.csv"))
    assert not result.ok
    found = {(e["row"], e["column"]) for e in result.errors}
    assert found == {(3, "email"), (4, "signed_up_at"), (5, "email_consent"), (6, "phone")}
    assert _snapshot() == before
    assert not Contact.objects.filter(email="good@example.com").exists()


def test_bad_amount_is_a_row_error_and_nothing_is_written():
    result = csv_import(kind="orders", data=data("orders_bad_amount.csv"))
    assert {(e["row"], e["column"]) for e in result.errors} == {(3, "total"), (4, "unit_price")}
    assert Order.objects.count() == 0
    assert Contact.objects.count() == 0


def test_semicolon_latin1_file_with_decimal_commas():
    text = (
        "external_id;email;first_name;last_name;signed_up_at\nC-9;jose@example.com;José;Müller;03.11.2024\n"
    )
    result = csv_import(kind="contacts", data=text.encode("latin-1"))
    assert result.ok, result.errors
    assert (result.delimiter, result.encoding) == (";", "cp1252")
    contact = Contact.objects.get(external_id="C-9")
    assert (contact.first_name, contact.last_name) == ("José", "Müller")


def test_utf8_bom_does_not_break_the_first_header():
    text = "email,first_name\nzoe@example.com,Zoë\n"
    result = csv_import(kind="contacts", data=b"\xef\xbb\xbf" + text.encode())
    assert result.ok, result.errors
    assert result.encoding == "utf-8-sig"
    assert Contact.objects.get().first_name == "Zoë"


def test_semicolon_products_with_german_amounts():
    text = "sku;name;price\nA-1;Lampe;1.234,50\nA-2;Becher;12,5\n"
    assert csv_import(kind="products", data=text.encode()).ok
    assert Product.objects.get(sku="A-1").price == Decimal("1234.50")
    assert Product.objects.get(sku="A-2").price == Decimal("12.50")


def test_orders_are_grouped_by_order_id_with_lines_and_totals(imported_samples):
    order = Order.objects.get(external_id="W-5001")
    assert order.total == Decimal("73.70")
    assert order.lines.count() == 3
    assert order.coupon_code == "BLACKFRIDAY"
    summed = Order.objects.get(external_id="W-5002")  # no total column value: sum of lines
    assert summed.total == Decimal("59.00")
    assert summed.status == Order.Status.FULFILLED
    assert summed.currency == "GBP"
    assert Order.objects.get(external_id="W-5003").contact.email == "new.buyer@example.com"
    line = OrderLine.objects.filter(order=order, sku="MUG-003").get()
    assert (line.quantity, line.unit_price, line.product.name) == (2, Decimal("14.50"), "Enamel Camp Mug")


def test_order_reimport_replaces_lines_instead_of_adding(imported_samples):
    result = csv_import(kind="orders", data=sample("winback_orders.csv"))
    assert (result.created, result.updated) == (0, 4)
    assert Order.objects.count() == 4
    assert Order.objects.get(external_id="W-5001").lines.count() == 3


def test_rows_of_one_order_need_not_be_together():
    text = (
        "order_id,email,placed_at,sku,quantity,unit_price\n"
        "A,a@example.com,2024-01-01,S1,1,10\n"
        "B,b@example.com,2024-01-02,S1,1,5\n"
        "A,a@example.com,2024-01-01,S2,2,1.50\n"
    )
    assert csv_import(kind="orders", data=text.encode()).ok
    order = Order.objects.get(external_id="A")
    assert order.lines.count() == 2
    assert order.total == Decimal("13.00")


def test_orders_for_unknown_customers_create_contacts():
    csv_import(kind="orders", data=sample("shopify_orders.csv"))
    assert set(Contact.objects.values_list("email", flat=True)) == {
        "lena.fischer@example.com",
        "tom.baker@example.com",
        "new.customer@example.com",
    }


def test_shopify_orders_map_statuses_totals_and_line_items():
    csv_import(kind="contacts", data=sample("shopify_customers.csv"))
    csv_import(kind="orders", data=sample("shopify_orders.csv"))
    first = Order.objects.get(external_id="#1001")
    assert first.contact.external_id == "7091234560001"
    assert first.total == Decimal("89.70")
    assert first.status == Order.Status.FULFILLED
    assert first.coupon_code == "BF20"
    assert first.lines.count() == 2
    assert Order.objects.get(external_id="#1002").status == Order.Status.REFUNDED
    assert Order.objects.get(external_id="#1003").status == Order.Status.CANCELLED


def test_shopify_customers_map_consent_country_and_totals():
    csv_import(kind="contacts", data=sample("shopify_customers.csv"))
    lena = Contact.objects.get(email="lena.fischer@example.com")
    assert lena.external_id == "7091234560001"
    assert lena.email_consent and lena.sms_consent
    assert lena.country == "DE"
    assert lena.attributes["shopify_total_spent"] == 312.4
    assert not Contact.objects.get(email="tom.baker@example.com").email_consent


def test_orders_upserted_is_sent_after_commit_with_order_ids(django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, order_ids, **kwargs):
        received.extend(order_ids)

    orders_upserted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            csv_import(kind="orders", data=sample("winback_orders.csv"))
    finally:
        orders_upserted.disconnect(receiver)
    assert sorted(received) == sorted(Order.objects.values_list("pk", flat=True))


def test_dry_run_counts_but_writes_nothing():
    result = csv_import(kind="contacts", data=sample("winback_contacts.csv"), dry_run=True)
    assert result.ok and result.created == 5
    assert Contact.objects.count() == 0


def test_explicit_format_that_does_not_fit_names_the_missing_columns():
    result = csv_import(kind="orders", data=sample("winback_orders.csv"), format_name="shopify")
    assert not result.ok
    assert [e["column"] for e in result.errors] == ["Name", "Created at"]
    assert Order.objects.count() == 0


def test_progress_is_reported_per_phase():
    seen = []
    rows = "\n".join(f"C-{i},p{i}@example.com" for i in range(12_000))
    csv_import(
        kind="contacts",
        data=f"external_id,email\n{rows}\n".encode(),
        progress=lambda phase, done, total: seen.append((phase, done, total)),
    )
    assert ("validating", 5000, 12_000) in seen
    assert seen[-1] == ("writing", 12_000, 12_000)
    assert Contact.objects.count() == 12_000


def test_empty_file_is_one_clear_error():
    result = csv_import(kind="contacts", data=b"")
    assert result.errors == [{"row": 1, "column": "", "message": "The file is empty (no header row)."}]


def test_a_spreadsheet_instead_of_csv_is_refused_as_such():
    result = csv_import(
        kind="products", data=b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe binary"
    )
    assert not result.ok
    assert result.errors[0]["message"].startswith("This is a spreadsheet workbook")


def test_reimporting_unchanged_orders_writes_nothing_and_signals_only_changes(
    django_capture_on_commit_callbacks,
):
    csv_import(kind="orders", data=sample("winback_orders.csv"))
    kept = set(OrderLine.objects.exclude(order__external_id="W-5002").values_list("pk", flat=True))
    received = []

    def receiver(sender, order_ids, **kwargs):
        received.append(sorted(order_ids))

    orders_upserted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            again = csv_import(kind="orders", data=sample("winback_orders.csv"))
        edited = sample("winback_orders.csv").replace(b"Recycled Hoodie,1,59.00", b"Recycled Hoodie,2,59.00")
        with django_capture_on_commit_callbacks(execute=True):
            csv_import(kind="orders", data=edited)
    finally:
        orders_upserted.disconnect(receiver)
    assert (again.ok, again.created, again.updated) == (True, 0, 4)
    assert received == [[Order.objects.get(external_id="W-5002").pk]]  # nothing for the unchanged file
    assert Order.objects.get(external_id="W-5002").total == Decimal("118.00")
    assert kept <= set(OrderLine.objects.values_list("pk", flat=True))  # unchanged orders' lines untouched
    assert OrderLine.objects.count() == 6
