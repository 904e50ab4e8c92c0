"""A separate process that assigns codes (run by test_concurrency.py against the test database).

Usage: python -m tests.coupons.assign_worker POOL_ID MODE GO_FILE CONTACT_ID...
MODE: single, bulk (batches of 20) or bulkN (batches of N).
Prints "ready", waits for GO_FILE to exist, assigns, prints {contact_id: code or null} as JSON.
"""

import json
import os
import sys
import time

import django


def main() -> None:
    django.setup()
    from contacts.models import Contact
    from coupons.models import CouponPool
    from coupons.services import coupon_assign, coupons_assign_bulk

    pool_id, mode, go_file, *contact_ids = sys.argv[1:]
    pool = CouponPool.objects.get(pk=int(pool_id))
    ids = [int(i) for i in contact_ids]
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(go_file) and time.monotonic() < deadline:
        time.sleep(0.002)
    got: dict[int, str | None] = {}
    if mode.startswith("bulk"):
        size = int(mode[4:] or 20)
        for start in range(0, len(ids), size):
            result = coupons_assign_bulk(pool=pool, contact_ids=ids[start : start + size])
            got.update({cid: c.code if c else None for cid, c in result.items()})
    else:
        for cid in ids:
            result = coupon_assign(pool=pool, contact=Contact(pk=cid))
            assert result.exhausted == (result.coupon is None)
            got[cid] = result.coupon.code if result.coupon else None
    print(json.dumps(got), flush=True)


if __name__ == "__main__":
    main()
