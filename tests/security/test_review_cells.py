"""Review of the spreadsheet-safe cell: the other compatibility forms of the formula signs."""

from __future__ import annotations

import pytest

from contacts.cells import spreadsheet_text
from contacts.services.export import cell_safe
from segments.services import csv_safe


# Small forms (U+FE62 ﹢, U+FE63 ﹣, U+FE66 ﹦, U+FE6B ﹫): NFKC, as some spreadsheet locales apply it,
# reads them as + - = @ exactly like the full-width forms already neutralised.
@pytest.mark.parametrize("text", ["\ufe66HYPERLINK()", "\ufe621", "\ufe631", "\ufe6bx"])
def test_compatibility_forms_of_formula_signs_are_neutralised(text):
    assert spreadsheet_text(text) == "'" + text
    assert cell_safe(text) == "'" + text
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["Ada", "ä=1", 42, None, "", "１２"])
def test_plain_values_are_left_alone(value):
    assert spreadsheet_text(value) == ("" if value is None else str(value))


@pytest.mark.parametrize("text", ["\x01=1+1", "\x00\x1f+1", "\x0b@SUM(A1)", "\x08\uff1d1"])
def test_control_characters_in_front_of_a_formula_sign(text):
    """The XLSX writer drops control characters after the cell function ran: "\\x01=..." became a
    formula cell. The sign behind leading control characters counts."""
    from openpyxl import load_workbook

    from contacts.services.export import xlsx_file

    assert spreadsheet_text(text) == "'" + text
    handle = xlsx_file(rows=[["name"], [cell_safe(text)]])
    cell = load_workbook(handle)["Export"]["A2"]
    assert cell.data_type == "s" and cell.value.startswith("'")
