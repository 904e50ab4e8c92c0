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
