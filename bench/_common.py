"""Shared setup for bench/imports.py and bench/coupons.py: Django setup, a throw-away database, timers.

Like bench/scoring.py and bench/journeys.py, the data go into Django's test database (`test_<name>`),
never into the configured one. DJANGO_SETTINGS_MODULE defaults to tests.settings (no SECRET_KEY needed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parser_make(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=None,
        help="e.g. postgres://postgres@127.0.0.1:5432/bench (default: $DATABASE_URL, else SQLite)",
    )
    return parser


def django_setup(database_url: str | None) -> None:
    """Call before importing any model. --database-url wins over $DATABASE_URL."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


class Timer:
    def __init__(self, label: str):
        self.label = label

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        print(f"  {self.label:<66} {self.seconds:8.2f} s", flush=True)


@contextlib.contextmanager
def throwaway_database() -> Iterator[None]:
    """Create the test database (migrated), yield, destroy it whatever happens."""
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})", flush=True)
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def database_empty() -> None:
    """Empty every table (TRUNCATE on PostgreSQL), so the next run starts from a fresh empty database."""
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def result_line(ok: bool, good: str, bad: str) -> int:
    print("RESULT:", good if ok else bad)
    return 0 if ok else 1


def figure(name: str, winback: float, baseline: float | None, unit: str, note: str = "") -> None:
    """One row of bench/RESULTS.md, printed as a `BENCH {json}` line that bench/run.py collects.

    `winback` and `baseline` are in `unit`; the ratio is computed so that above 1 means Winback is better
    (rates: winback / baseline; times in ms or s: baseline / winback)."""
    import json

    ratio = None
    if baseline:
        ratio = winback / baseline if unit.endswith("/s") else baseline / winback if winback else None
    print(
        "BENCH "
        + json.dumps(
            {
                "figure": name,
                "winback": winback,
                "baseline": baseline,
                "unit": unit,
                "ratio": ratio,
                "note": note,
            }
        ),
        flush=True,
    )
