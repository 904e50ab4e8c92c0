import pytest
import tablib

from contacts.models import Contact
from contacts.resources import ContactResource, ProductResource
from tests.contacts.conftest import data, sample

pytestmark = pytest.mark.django_db


def test_resource_import_goes_through_the_shared_path():
    dataset = tablib.Dataset().load(sample("winback_contacts.csv").decode(), format="csv")
    result = ContactResource().import_data(dataset, dry_run=False)
    assert not result.has_validation_errors()
    assert result.totals["new"] == 5
    assert Contact.objects.get(external_id="C-1002").phone == "+447700900123"


def test_resource_import_reports_row_errors_and_writes_nothing():
    dataset = tablib.Dataset().load(data("contacts_bad_rows.csv").decode(), format="csv")
    result = ContactResource().import_data(dataset, dry_run=False)
    assert result.has_validation_errors()
    assert [row.number for row in result.invalid_rows] == [3, 4, 5, 6]
    assert "not a valid email" in str(result.invalid_rows[0].field_specific_errors)
    assert Contact.objects.count() == 0


def test_resource_export_escapes_formulas():
    from contacts.models import Product

    Product.objects.create(sku="=1+1", name="@evil")
    exported = ProductResource().export().dict[0]
    assert (exported["sku"], exported["name"]) == ("'=1+1", "'@evil")
