"""One spreadsheet-safe cell function for every export, full-width formula signs included (item 6)."""

from __future__ import annotations

import csv
import io

import pytest

from contacts.cells import spreadsheet_text
from contacts.models import Contact
from contacts.services.export import cell_safe
from coupons.selectors import pool_codes_export_rows
from segments.models import Segment
from segments.services import csv_safe, segment_export_rows
from tests.factories import CouponFactory, CouponPoolFactory

pytestmark = pytest.mark.django_db

DANGEROUS = [
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\uff1dHYPERLINK()",
    "\uff0b1",
    "\uff0d1",
    "\uff20x",
    "\tx",
    "\nx",
]


@pytest.mark.parametrize("value", DANGEROUS)
def test_every_export_function_neutralises_formulas_the_same_way(value):
    assert spreadsheet_text(value) == "'" + value
    assert cell_safe(value) == "'" + value
    assert csv_safe(value) == "'" + value


def test_segment_export_neutralises_full_width_signs():
    Contact.objects.create(email="ada@example.com", first_name="\uff1dcmd|' /C calc'!A0")
    segment = Segment.objects.create(name="Everyone", rules={})
    rows = list(csv.reader(io.StringIO("".join(segment_export_rows(segment=segment)))))
    assert rows[1][3] == "'\uff1dcmd|' /C calc'!A0"


def test_coupon_export_neutralises_full_width_signs():
    pool = CouponPoolFactory()
    CouponFactory(pool=pool, code="\uff1dHYPERLINK(1)")
    rows = list(pool_codes_export_rows(pool=pool, assigned=False))
    assert any(cell == "'\uff1dHYPERLINK(1)" for row in rows for cell in row)
