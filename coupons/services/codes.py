"""Filling pools with codes: generate them, or import the codes a shop produced."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

import numpy as np
from django.db import connection, transaction
from django.utils.timezone import now

from coupons.models import Coupon, CouponPool
from coupons.services.counters import pool_counters_add
from coupons.services.pools import pool_stock_check

# 31 symbols, none that a reader could confuse: no 0/O, no 1/I/L.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_MAX_LENGTH = 64
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")
GENERATE_BATCH = 100_000
MAX_GENERATE = 5_000_000
HEADER_NAMES = ("code", "coupon", "coupon_code", "voucher", "voucher_code", "gutschein", "gutscheincode")
IMPORT_CHECK_BATCH = 900
IMPORT_INSERT_BATCH = 100_000
IMPORT_PROGRESS_EVERY = 50_000

_SYMBOLS = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
# Bytes at or above this value are dropped so every symbol is equally likely (248 = 8 * 31).
_UNBIASED_LIMIT = 256 - 256 % len(ALPHABET)


def normalize_code(raw: str) -> str:
    return raw.strip().upper()


def random_codes(*, count: int, length: int, prefix: str = "") -> list[str]:
    """`count` random codes from ALPHABET (cryptographically random; duplicates possible but rare)."""
    needed = count * length
    symbols = np.empty(0, dtype=np.uint8)
    while symbols.size < needed:
        raw = np.frombuffer(secrets.token_bytes(int((needed - symbols.size) * 1.05) + 64), dtype=np.uint8)
        symbols = np.concatenate([symbols, raw[raw < _UNBIASED_LIMIT] % len(ALPHABET)])
    chars = _SYMBOLS[symbols[:needed]].reshape(count, length)
    return [prefix + code.decode("ascii") for code in chars.view(f"S{length}").ravel().tolist()]


def coupons_generate(*, pool: CouponPool, count: int, prefix: str = "", length: int = 10) -> int:
    """Add exactly `count` new unique codes to `pool`. Returns the number created.

    Codes are generated in batches and inserted ignoring conflicts (the unique index drops
    collisions with any existing code, like bulk_create(ignore_conflicts=True)); the pool is
    topped up until `count` new codes exist.
    """
    prefix = normalize_code(prefix)
    if not 1 <= count <= MAX_GENERATE:
        raise ValueError(f"Generate between 1 and {MAX_GENERATE:,} codes at a time.")
    if not 6 <= length <= 32:
        raise ValueError("Codes need 6 to 32 random characters.")
    if prefix and not CODE_PATTERN.match(prefix):
        raise ValueError(
            "A prefix may contain letters, digits, '-' and '_', and starts with a letter or digit."
        )
    if len(prefix) + length > CODE_MAX_LENGTH:
        raise ValueError(f"Prefix and random part together may be at most {CODE_MAX_LENGTH} characters.")
    if count * 10_000 > len(ALPHABET) ** length:
        raise ValueError("Too many codes for this length: codes would be easy to guess. Use longer codes.")

    created = 0
    for _round in range(50):
        if created >= count:
            break
        remaining = count - created
        for start in range(0, remaining, GENERATE_BATCH):
            size = min(GENERATE_BATCH, remaining - start)
            codes = set(random_codes(count=size, length=length, prefix=prefix))
            created += _insert_codes(pool, codes, ignore_conflicts=True)
    pool_stock_check(pool=pool)
    return created


def coupons_add(*, pool: CouponPool, codes: Iterable[str], ignore_conflicts: bool = False) -> int:
    """Add these exact codes (already normalised) to `pool`; returns how many were inserted.

    For callers that bring their own codes (tests' factories, integrations); no validation beyond
    the unique index. Without ignore_conflicts, a code that exists raises IntegrityError.
    """
    return _insert_codes(pool, codes, ignore_conflicts=ignore_conflicts)


def _insert_codes(pool: CouponPool, codes: Iterable[str], *, ignore_conflicts: bool) -> int:
    """Insert codes in one statement (PostgreSQL: unnest) or one executemany (SQLite).

    With ignore_conflicts, codes that exist anywhere are skipped by the unique index (generation);
    without, a duplicate raises IntegrityError and the transaction writes nothing (import).
    Equivalent to bulk_create() without building a model instance per code, which dominated the
    time for a million codes. Returns the number inserted, counted into the pool's counters in
    the same transaction.
    """
    codes = list(codes)
    if not codes:
        return 0
    table = connection.ops.quote_name(Coupon._meta.db_table)
    created_at = now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (pool_id, code, redemption, created_at) "
                    "SELECT %s, unnest(%s::varchar[]), '', %s"
                    + (" ON CONFLICT (code) DO NOTHING" if ignore_conflicts else ""),
                    [pool.pk, codes, created_at],
                )
                inserted = cursor.rowcount
        elif connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT {'OR IGNORE ' if ignore_conflicts else ''}INTO {table} "
                    "(pool_id, code, redemption, created_at) VALUES (%s, %s, '', %s)",
                    [(pool.pk, code, created_at) for code in codes],
                )
                inserted = cursor.rowcount
        else:
            before = Coupon.objects.filter(pool=pool).count()
            Coupon.objects.bulk_create(
                (Coupon(pool=pool, code=code, created_at=created_at) for code in codes),
                batch_size=5000,
                ignore_conflicts=ignore_conflicts,
            )
            inserted = Coupon.objects.filter(pool=pool).count() - before
        pool_counters_add(changes={pool.pk: {"codes": inserted}})
    return inserted


@dataclass
class ImportReport:
    created: int = 0
    rows: int = 0
    # Row-level problems that stop the import: [{"row": 3, "column": "code", "message": "..."}]
    errors: list[dict] = field(default_factory=list)
    # Codes listed twice in the file or already in this pool: skipped, reported.
    duplicates: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _open_text(file: IO) -> IO[str]:
    if isinstance(file, io.TextIOBase):
        return file
    if hasattr(file, "seek"):
        file.seek(0)
    return io.TextIOWrapper(file, encoding="utf-8-sig", newline="")


def coupons_import_csv(
    *,
    pool: CouponPool,
    file: IO,
    max_errors: int = 200,
    progress: Callable[[str, int], None] | None = None,
) -> ImportReport:
    """Import the codes in a shop's CSV into `pool`. All or nothing: any row error writes nothing.

    The file needs a header with a `code` column (also: coupon, coupon_code, voucher); other columns
    are ignored. A file with a single column and no such header is read as a bare list of codes.
    `progress(phase, rows)` is called every IMPORT_PROGRESS_EVERY rows while checking and once
    before writing (outside any transaction this function opens).
    """
    report = ImportReport()
    text = _open_text(file)
    try:
        sample = text.read(8192)
        text.seek(0)
    except UnicodeDecodeError:
        report.errors.append({"row": 1, "column": "", "message": "The file is not UTF-8 text."})
        return report
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text, dialect)
    seen: dict[str, int] = {}
    column = 0
    try:
        for index, row in enumerate(reader, start=1):
            if index == 1:
                names = [cell.strip().lower().replace(" ", "_") for cell in row]
                header = next((i for i, name in enumerate(names) if name in HEADER_NAMES), None)
                if header is not None:
                    column = header
                    continue
                if len(row) > 1:
                    report.errors.append(
                        {"row": 1, "column": "", "message": "No 'code' column in the header row."}
                    )
                    return report
            if not any(cell.strip() for cell in row):
                continue
            report.rows += 1
            if progress is not None and report.rows % IMPORT_PROGRESS_EVERY == 0:
                progress("checking", report.rows)
            raw = row[column] if column < len(row) else ""
            code = normalize_code(raw)
            message = None
            if not code:
                message = "The code is empty."
            elif len(code) > CODE_MAX_LENGTH:
                message = f"The code is longer than {CODE_MAX_LENGTH} characters."
            elif not CODE_PATTERN.match(code):
                message = (
                    "Codes may contain only letters, digits, '-' and '_', starting with a letter or digit."
                )
            if message:
                report.errors.append({"row": index, "column": "code", "message": message, "value": raw[:80]})
                if len(report.errors) >= max_errors:
                    break
                continue
            if code in seen:
                report.duplicates.append({"row": index, "code": code, "where": f"file, row {seen[code]}"})
                continue
            seen[code] = index
    except UnicodeDecodeError:
        report.errors.append({"row": None, "column": "", "message": "The file is not UTF-8 text."})
    except csv.Error as exc:
        report.errors.append({"row": reader.line_num, "column": "", "message": f"Unreadable CSV: {exc}"})
    if not report.errors and not report.rows:
        report.errors.append({"row": None, "column": "", "message": "The file contains no codes."})
    if report.errors:
        return report

    codes = list(seen)
    new_codes = []
    for start in range(0, len(codes), IMPORT_CHECK_BATCH):
        chunk = codes[start : start + IMPORT_CHECK_BATCH]
        existing = dict(Coupon.objects.filter(code__in=chunk).values_list("code", "pool_id"))
        for code in chunk:
            if code not in existing:
                new_codes.append(code)
            elif existing[code] == pool.pk:
                report.duplicates.append({"row": seen[code], "code": code, "where": "already in this pool"})
            else:
                report.errors.append(
                    {
                        "row": seen[code],
                        "column": "code",
                        "message": "The code belongs to another pool.",
                        "value": code,
                    }
                )
    if report.errors:
        report.errors.sort(key=lambda error: error["row"] or 0)
        return report
    if progress is not None:
        progress("writing", report.rows)
    with transaction.atomic():  # all or nothing, also if a code appeared concurrently (IntegrityError)
        for start in range(0, len(new_codes), IMPORT_INSERT_BATCH):
            _insert_codes(pool, new_codes[start : start + IMPORT_INSERT_BATCH], ignore_conflicts=False)
    report.created = len(new_codes)
    pool_stock_check(pool=pool)
    return report
