"""`seed_demo` with the same seed gives the same shop, byte for byte, whatever PYTHONHASHSEED and whatever
the time of day: every instant counts back from midnight UTC of the seeding day, and the seasonal dates use
one random draw each, so the rest of the stream never depends on the date.

Two real processes (own SQLite database each) seed 400 contacts and print a digest of contacts and orders.
"""

import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from contacts.models import Contact, Order
from contacts.services.demo import demo_delete, demo_seed

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import hashlib, io, os
import django
django.setup()
from django.test.runner import DiscoverRunner
runner = DiscoverRunner(verbosity=0)
old = runner.setup_databases()
from django.core.management import call_command
call_command("seed_demo", contacts=400, seed=42, stdout=io.StringIO())
from contacts.models import Contact, Order
digest = hashlib.sha256()
for row in Contact.objects.order_by("external_id").values_list(
    "external_id", "email", "phone", "signed_up_at", "email_consent", "status", "attributes",
    "last_activity_at",
):
    digest.update(repr(row).encode())
for row in Order.objects.order_by("external_id").values_list(
    "external_id", "contact__external_id", "placed_at", "total", "status", "coupon_code"
):
    digest.update(repr(row).encode())
print(digest.hexdigest())
runner.teardown_databases(old)
"""


def test_same_seed_same_shop_whatever_the_hash_seed():
    processes = []
    for hash_seed in ("1", "2"):
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "WINBACK_VAR_DIR", "PYTEST_CURRENT_TEST")
        }
        env.update(
            PYTHONHASHSEED=hash_seed,
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="tests.settings",
            WINBACK_VAR_DIR=tempfile.mkdtemp(prefix="winback-demo-digest-"),
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
            )
        )
    digests = [process.communicate(timeout=600)[0].strip().splitlines()[-1] for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert digests[0] == digests[1]


def _shop(today: date) -> list[tuple]:
    demo_seed(contacts=300, seed=7, today=today)
    rows = list(Order.objects.order_by("external_id").values_list("external_id", "placed_at", "total"))
    rows += list(Contact.objects.order_by("external_id").values_list("external_id", "signed_up_at"))
    demo_delete()
    return rows


def test_the_seeding_day_fixes_every_instant(db):
    assert _shop(date(2026, 3, 15)) == _shop(date(2026, 3, 15))
    # Another day moves the dates, not who buys how much.
    other, base = _shop(date(2026, 7, 1)), _shop(date(2026, 3, 15))
    assert [(row[0], row[2]) for row in other if len(row) == 3] == [
        (row[0], row[2]) for row in base if len(row) == 3
    ]
