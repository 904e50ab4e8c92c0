"""django-import-export resources for code that speaks tablib (scripts, other tools).

Imports do not use import-export's row-by-row machinery: `import_data` hands the dataset to
the one import path (contacts.importing.csv_import), so validation, matching, batching and
all-or-nothing behave exactly as in the admin, the background job and `manage.py import_csv`.
Exports escape spreadsheet formulas like the admin export actions.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from import_export import resources
from import_export.results import Result, RowResult

from contacts.importing import csv_import
from contacts.models import Contact, Order, Product
from contacts.services.export import cell_safe


class SharedPathResource(resources.ModelResource):
    import_kind = ""

    def import_data(self, dataset, dry_run=False, raise_errors=False, **kwargs) -> Result:
        outcome = csv_import(kind=self.import_kind, data=dataset.export("csv").encode(), dry_run=dry_run)
        result = Result()
        result.diff_headers = list(dataset.headers or [])
        result.total_rows = outcome.total_rows
        for error in outcome.errors:
            row = (
                dict(zip(result.diff_headers, dataset[error["row"] - 2], strict=False))
                if error["row"] >= 2
                else {}
            )
            result.append_invalid_row(
                error["row"], row, ValidationError({error["column"] or "__all__": [error["message"]]})
            )
        if outcome.ok:
            result.totals[RowResult.IMPORT_TYPE_NEW] = outcome.created
            result.totals[RowResult.IMPORT_TYPE_UPDATE] = outcome.updated
        elif raise_errors:
            raise ValidationError([e["message"] for e in outcome.errors])
        return result

    def export_field(self, field, instance, **kwargs):
        return cell_safe(super().export_field(field, instance, **kwargs))


class ContactResource(SharedPathResource):
    import_kind = "contacts"

    class Meta:
        model = Contact
        fields = (
            "external_id", "email", "first_name", "last_name", "phone", "country", "locale", "timezone",
            "signed_up_at", "email_consent", "sms_consent", "push_consent", "status", "last_activity_at",
        )  # fmt: skip


class ProductResource(SharedPathResource):
    import_kind = "products"

    class Meta:
        model = Product
        fields = ("sku", "name", "category", "brand", "price", "url", "image_url")


class OrderResource(SharedPathResource):
    import_kind = "orders"

    class Meta:
        model = Order
        fields = ("external_id", "contact__external_id", "contact__email", "placed_at", "status", "currency",
                  "total", "coupon_code")  # fmt: skip
