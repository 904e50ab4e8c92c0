"""The one spreadsheet-safe cell function every CSV/XLSX export uses (contacts, segments, coupons,
reports): text a spreadsheet would read as a formula gets a leading ' (OWASP "CSV injection")."""

from __future__ import annotations

import unicodedata

# Formula signs, their full-width forms (＝ ＋ － ＠: some spreadsheet locales read them as formula
# signs too), and control characters that start a new cell or line in some programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


# Control characters XLSX cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE): the XLSX writer drops them,
# so "\x01=..." would reach the sheet as "=...". The sign behind them counts.
_DROPPED = "".join(map(chr, [*range(0, 9), 11, 12, *range(14, 32)]))


def spreadsheet_text(value: object) -> str:
    """`value` as text a spreadsheet shows as text (None: "")."""
    text = "" if value is None else str(value)
    head = text.lstrip(_DROPPED)
    # NFKC of the first character: the full-width and small forms (﹦ ﹢ ﹣ ﹫) of the signs too.
    if head.startswith(FORMULA_STARTS) or unicodedata.normalize("NFKC", head[:1]).startswith(FORMULA_STARTS):
        return "'" + text
    return text
