"""Benchmark: Winback's scoring beside the pandas script an analyst would write, on the same synthetic shop.

    .venv/bin/pip install -e ".[bench]"          # pandas, for the baseline only
    .venv/bin/python bench/scoring.py --contacts 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/scoring.py --contacts 1000000

The shop has the demo shop's 1M shape: about 90 % of contacts bought, 2.35 orders per contact, about 46 %
one-order buyers, second-resolution timestamps over three years, refunds and cancellations. Rows go in with
COPY (PostgreSQL) into a throw-away test database (Django's `test_<name>`), never into the configured one.

Printed:
1. RFM + lifecycle: Winback (the scoring run's own read: purchase rows by binary COPY summed by numpy; numpy
   scores, a 5x5x5 lookup) beside the analyst's pandas script (`pd.read_sql` of the orders, groupby, ranks,
   a dict map from score codes to segments), in --repeat rounds with the two sides alternating (machine
   load moves both alike), the ratio of each round, the median and the lowest, and whether both agree
   (same rules on both sides).
2. Full scoring runs (`manage.py score` in a subprocess, so its peak memory is its own): the first run on an
   empty score table, a run a day later (every buyer's recency moved), and a re-run the same day (nothing
   changed, nothing written); each with its phases and peak memory.
Exits 1 if the results disagree or a run fails.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import numpy as np
from _common import ROOT, Timer, django_setup, parser_make

AS_OF = dt.datetime(2026, 6, 1, 18, 0, tzinfo=dt.UTC)


def _copy(model, columns: list[str], rows) -> None:
    """COPY on PostgreSQL (executemany on SQLite); every other column gets its model default."""
    from django.db import connection

    from segments.services.bulk import rows_insert

    fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.column not in columns]
    template = model()
    defaults = tuple(f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields)
    all_columns = columns + [f.column for f in fields]
    batch: list[tuple] = []
    for row in rows:
        batch.append(tuple(row) + defaults)
        if len(batch) == 100_000:
            rows_insert(table=model._meta.db_table, columns=all_columns, rows=batch)
            batch = []
    rows_insert(table=model._meta.db_table, columns=all_columns, rows=batch)


def generate(contacts: int, seed: int) -> int:
    from django.db import connection

    from contacts.models import Contact, Order

    rng = np.random.default_rng(seed)
    _copy(Contact, ["email"], ((f"bench{i}@example.com",) for i in range(contacts)))
    ids = np.fromiter(Contact.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    buyers = ids[rng.random(len(ids)) < 0.9]
    n = len(buyers)
    age_days = rng.uniform(1, 1095, n)
    rate = rng.gamma(0.7, 1 / 90, n)  # purchases per day while alive
    lifetime_purchases = rng.geometric(rng.beta(1.0, 3.5, n))  # purchases before dropping out
    repeats = np.minimum(rng.poisson(rate * age_days), lifetime_purchases - 1).clip(0, 60)
    span = np.where(repeats + 1 < lifetime_purchases, age_days, age_days * rng.uniform(0.05, 1, n))
    counts = repeats + 1
    owner = np.repeat(np.arange(n), counts)
    is_first = np.ones(len(owner), dtype=bool)
    is_first[1:] = owner[1:] != owner[:-1]
    seconds_ago = np.round(
        (age_days[owner] - np.where(is_first, 0, rng.random(len(owner)) * span[owner])) * 86_400
    )
    placed = (np.datetime64(AS_OF.replace(tzinfo=None), "s") - seconds_ago.astype("timedelta64[s]")).astype(
        object
    )
    totals = np.round(rng.lognormal(3.4, 0.5, n)[owner] * rng.lognormal(0, 0.3, len(owner)), 2)
    status = rng.choice(["paid", "fulfilled", "refunded", "cancelled"], len(owner), p=[0.6, 0.34, 0.04, 0.02])
    contact_ids = buyers[owner].tolist()
    aware = connection.vendor == "postgresql"
    _copy(
        Order,
        ["external_id", "contact_id", "placed_at", "total", "status"],
        (
            (f"b{i}", contact_ids[i], p.replace(tzinfo=dt.UTC) if aware else p, t, s)
            for i, (p, t, s) in enumerate(zip(placed.tolist(), totals.tolist(), status.tolist(), strict=True))
        ),
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # As autovacuum would have done on a real shop (it vacuums after inserts too): statistics, and
            # the visibility map that lets the purchases be read from their covering index.
            cursor.execute("VACUUM ANALYZE")
    return len(owner)


def winback_rfm(as_of: dt.datetime):
    """Winback's RFM + lifecycle: the run's own read and vectorised scores."""
    from segments import rfm
    from segments.services import scoring_data as data

    purchases = data.purchases_read(as_of=as_of)
    as_of_day = data.shop_day(as_of)
    recency = as_of_day - purchases.last_day
    r = rfm.quintile_scores(recency, higher_is_better=False)
    f = rfm.frequency_scores(purchases.counts)
    m = rfm.quintile_scores(np.round(purchases.totals, 2))
    segment = rfm.segment_map_current().lookup(r, f, m)
    stage = rfm.lifecycle_stages(
        recency_days=recency, first_purchase_days=as_of_day - purchases.first_day, frequency=purchases.counts
    )
    return purchases.buyer_ids, r, f, m, segment, stage


def pandas_baseline(as_of: dt.datetime):
    """What an analyst writes: pd.read_sql of the orders, groupby, ranks, and a dict from "RFM" codes to
    segment names (the same scoring rules as Winback, so the results can be compared)."""
    import warnings

    import pandas as pd
    from django.conf import settings
    from django.db import connection

    from segments import rfm

    connection.ensure_connection()
    sql = (
        "SELECT contact_id, placed_at, total FROM contacts_order "
        "WHERE status NOT IN ('cancelled', 'refunded') AND placed_at <= %(as_of)s"
    )
    params = {"as_of": as_of if connection.vendor == "postgresql" else as_of.strftime("%Y-%m-%d %H:%M:%S")}
    if connection.vendor == "sqlite":
        sql = sql.replace("%(as_of)s", ":as_of")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas prefers SQLAlchemy; a DBAPI connection works
        df = pd.read_sql(sql, connection.connection, params=params)
    df["placed_at"] = pd.to_datetime(df["placed_at"], utc=True, format="mixed").dt.tz_convert(
        settings.TIME_ZONE
    )
    df["day"] = df["placed_at"].dt.normalize()
    df["total"] = df["total"].astype(float)
    table = df.groupby("contact_id").agg(
        first=("day", "min"), last=("day", "max"), frequency=("total", "size"), monetary=("total", "sum")
    )
    table["monetary"] = table["monetary"].round(2)
    today = pd.Timestamp(as_of).tz_convert(settings.TIME_ZONE).normalize()
    table["recency"] = (today - table["last"]).dt.days
    n = len(table)

    def score(column: pd.Series, ascending: bool) -> pd.Series:
        percentile = (column.rank(method="average", ascending=ascending) - 0.5) / n
        return (1 + np.floor(5 * percentile)).clip(1, 5).astype(int)

    table["R"] = score(table["recency"], ascending=False)
    table["M"] = score(table["monetary"], ascending=True)
    # F: one-order buyers 1, repeat buyers 2..5 by mid-rank, then Winback's documented fill step (a small
    # table per distinct frequency value; no per-buyer work).
    per_value = table["frequency"].value_counts().sort_index()
    repeat = per_value.iloc[1:]
    mid = (repeat.cumsum() - repeat / 2) / repeat.sum()
    f_values = (2 + np.floor(4 * mid)).clip(2, 5).astype(int).to_numpy()
    if len(repeat) >= 4 and len(set(f_values)) < 4:
        f_values = rfm._fill_every_score(f_values, repeat.to_numpy().astype(float))
    table["F"] = table["frequency"].map(dict(zip(per_value.index, [1, *f_values.tolist()], strict=True)))
    segment_map = rfm.segment_map_current()
    codes = {
        f"{r}{f}{m}": segment_map.name_for(r, f, m)
        for r in range(1, 6)
        for f in range(1, 6)
        for m in range(1, 6)
    }
    table["segment"] = (table["R"].astype(str) + table["F"].astype(str) + table["M"].astype(str)).map(codes)
    first_days = (today - table["first"]).dt.days
    days = rfm.lifecycle_days_current()
    table["stage"] = np.select(
        [
            first_days <= days["new"],
            table["recency"] <= days["active"],
            table["recency"] <= days["defecting"],
        ],
        ["new", "active", "defecting"],
        default="lost",
    )
    return table


# Peak memory from VmHWM (this process's own high-water mark). Not ru_maxrss: on Linux it keeps the
# resident size of the forked copy of the parent before exec, i.e. the benchmark's own memory (1.27 GB at
# 1M after generating the shop and the pandas baseline), whatever the run itself used.
_CHILD = (
    "import resource, sys\n"
    "from django.core.management import execute_from_command_line\n"
    "def peak():\n"
    "    try:\n"
    "        for line in open('/proc/self/status'):\n"
    "            if line.startswith('VmHWM:'):\n"
    "                return int(line.split()[1]) / 1024\n"
    "    except OSError:\n"
    "        pass\n"
    "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
    "try:\n"
    "    execute_from_command_line(['manage.py', 'score', '--as-of', sys.argv[1]])\n"
    "finally:\n"
    "    print(f'peak memory {peak():,.0f} MB')\n"
)


def full_run(database_url: str, as_of: dt.datetime, label: str) -> bool:
    """`manage.py score --as-of` in a subprocess: its phases and its own peak memory (VmHWM)."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, as_of.isoformat()], cwd=ROOT, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    print(f"  {label:<66} {seconds:8.2f} s", flush=True)
    for line in done.stdout.splitlines()[1:]:
        print(f"    {line.strip()}")
    if done.returncode:
        print(done.stderr[-2000:])
    return done.returncode == 0


def main() -> int:
    parser = parser_make(__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the RFM comparison (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the test database afterwards (to profile)")
    args = parser.parse_args()
    django_setup(args.database_url)

    from django.db import connection
    from django.test.utils import setup_test_environment

    sys.path.insert(0, str(ROOT))
    from tests.conftest import test_database_url

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    ok = True
    try:
        print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})", flush=True)
        with Timer(f"generate {args.contacts:,} contacts and their orders (COPY)"):
            orders = generate(args.contacts, args.seed)
        print(f"  {orders:,} orders")

        print("RFM + lifecycle (segments and stages of every buyer)")
        print(f"  {args.repeat} rounds, the two sides alternating (the first round warms the caches of both)")
        ratios = []
        for round_number in range(1, args.repeat + 1):
            with Timer(f"round {round_number}: Winback (binary COPY, numpy sums and scores, lookup)") as ours:
                buyer_ids, r, f, m, segment, stage = winback_rfm(AS_OF)
            with Timer(f"round {round_number}: pandas (pd.read_sql, groupby, ranks, dict map)") as baseline:
                table = pandas_baseline(AS_OF)
            ratios.append(baseline.seconds / ours.seconds)
            print(f"  round {round_number}: ratio pandas / Winback {ratios[-1]:.2f}x", flush=True)
        print(f"  ratio pandas / Winback: median {np.median(ratios):.2f}x, lowest {min(ratios):.2f}x")
        one_order = (table["frequency"] == 1).mean()
        print(f"  {len(table):,} buyers, {one_order:.1%} with one order")
        position = np.searchsorted(buyer_ids, table.index.to_numpy())
        for name, mine, theirs in (
            ("R", r, table["R"]),
            ("F", f, table["F"]),
            ("M", m, table["M"]),
            ("segment", segment, table["segment"]),
            ("stage", stage, table["stage"]),
        ):
            agree = mine[position] == theirs.to_numpy()
            print(f"  {name:<8} agree for {agree.mean():.4%} of {len(agree):,} buyers")
            ok &= bool(agree.all())
        ok &= len(table) == len(buyer_ids)
        connection.close()  # the subprocesses below get the database to themselves

        url = test_database_url()
        print("Full scoring runs (manage.py score in a subprocess)")
        ok &= full_run(url, AS_OF, "first run (empty score table, every row and first history written)")
        ok &= full_run(url, AS_OF + dt.timedelta(days=1), "a day later (recency moved for every buyer)")
        ok &= full_run(url, AS_OF + dt.timedelta(days=1, hours=1), "re-run the same day (nothing changed)")
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    print("RESULT:", "results agree" if ok else "RESULTS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
