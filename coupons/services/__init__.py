"""Coupon services: the one door for writes to pools and codes.

The contract other apps rely on (docs/ARCHITECTURE.md):
    coupon_assign(*, pool, contact) -> AssignResult
    coupons_assign_bulk(*, pool, contact_ids) -> dict[int, Coupon | None]
    coupon_redemptions_record(*, order_ids) -> int
"""

from coupons.services.assignment import AssignmentBusy, AssignResult, coupon_assign, coupons_assign_bulk
from coupons.services.codes import (
    ALPHABET,
    ImportReport,
    coupons_add,
    coupons_generate,
    coupons_import_csv,
)
from coupons.services.counters import pool_counters_fold
from coupons.services.imports import (
    code_import_run,
    code_import_runs_in_background,
    code_import_start,
    code_imports_resume,
)
from coupons.services.pools import pool_deactivate, pools_stock_check
from coupons.services.redemption import coupon_redemptions_record

__all__ = [
    "ALPHABET",
    "AssignResult",
    "AssignmentBusy",
    "ImportReport",
    "code_import_run",
    "code_import_runs_in_background",
    "code_import_start",
    "code_imports_resume",
    "coupon_assign",
    "coupon_redemptions_record",
    "coupons_add",
    "coupons_assign_bulk",
    "coupons_generate",
    "coupons_import_csv",
    "pool_counters_fold",
    "pool_deactivate",
    "pools_stock_check",
]
