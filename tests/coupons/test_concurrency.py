"""Several real processes assign codes from one small pool at the same time."""

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from coupons.models import Coupon
from tests.coupons.conftest import make_contacts, make_pool

PROCESSES = 4
CODES = 120
CONTACTS = 160


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"  # the test database is a file under WINBACK_VAR_DIR
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    pytest.skip(f"no multi-process test for {db['ENGINE']}")


@pytest.mark.django_db(transaction=True)
def test_many_processes_never_give_one_code_twice_or_two_codes_to_one_contact(tmp_path: Path):
    pool = make_pool(codes=CODES)
    ids = make_contacts(CONTACTS)
    go_file = tmp_path / "go"
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    workers = []
    for n in range(PROCESSES):
        order = ids[:]
        random.Random(n).shuffle(order)
        mode = "bulk" if n % 2 else "single"
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.coupons.assign_worker", str(pool.pk), mode, str(go_file)]
                + [str(i) for i in order],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
        go_file.touch()  # all processes start assigning at once
        reports = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            reports.append({int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()})
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    assigned = list(Coupon.objects.filter(pool=pool, contact__isnull=False).values_list("contact_id", "code"))
    holders = Counter(contact for contact, _code in assigned)
    assert len(assigned) == CODES  # every code went out (more contacts than codes)...
    assert max(holders.values()) == 1  # ...no contact holds two...
    assert len({code for _contact, code in assigned}) == CODES  # ...and no code reached two contacts
    truth = dict(assigned)
    for report in reports:
        assert set(report) == set(ids)
        # Each process saw the same outcome: the contact's one code, or "exhausted" (None).
        assert report == {cid: truth.get(cid) for cid in ids}
    assert sum(1 for cid in ids if cid not in truth) == CONTACTS - CODES
