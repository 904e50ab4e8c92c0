"""Benchmark: Winback's scoring run beside the pandas baseline an analyst would write, and the vectorised
BG/NBD fit beside a straightforward per-customer likelihood loop, on the same synthetic shop.

    .venv/bin/pip install -e ".[bench]"          # pandas, for the baseline only
    .venv/bin/python bench/scoring.py --contacts 200000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/scoring.py --contacts 1000000

The data go into a throw-away test database (Django's test database machinery: `test_<name>`), never into
the configured one. DJANGO_SETTINGS_MODULE defaults to tests.settings (no SECRET_KEY needed).
Prints both timings, their ratio, and checks that the results agree (exits 1 if they do not).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402
from _common import Timer  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from contacts.models import Contact, Event, Order  # noqa: E402
from segments import clv, rfm  # noqa: E402
from segments.models import ContactScore, ScoringRun  # noqa: E402
from segments.services.scoring import _purchase_aggregates, scores_compute, scoring_run_execute  # noqa: E402

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def generate(contacts: int, seed: int) -> int:
    """A shop with BG/NBD-like behaviour: 80 % buyers, skewed frequency, dropouts, refunds."""
    rng = np.random.default_rng(seed)
    batch = 10_000
    for start in range(0, contacts, batch):
        Contact.objects.bulk_create(
            [Contact(email=f"bench{i}@example.com") for i in range(start, min(start + batch, contacts))],
            batch_size=batch,
        )
    ids = np.fromiter(Contact.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    buyers = ids[rng.random(len(ids)) < 0.8]
    n = len(buyers)
    age_days = rng.uniform(1, 1095, n)
    rate = rng.gamma(0.8, 1 / 40, n)  # purchases per day while alive
    dropout = rng.beta(1.0, 4.0, n)  # probability of dropping out after each purchase
    lifetime_purchases = rng.geometric(dropout)  # purchases before dropping out
    repeats = np.minimum(rng.poisson(rate * age_days), lifetime_purchases - 1).clip(0, 60)
    alive_span = np.where(repeats + 1 < lifetime_purchases, age_days, age_days * rng.uniform(0.05, 1, n))
    per_customer_value = rng.lognormal(3.4, 0.5, n)

    counts = repeats + 1
    owner = np.repeat(np.arange(n), counts)
    is_first = np.ones(len(owner), dtype=bool)
    is_first[1:] = owner[1:] != owner[:-1]
    offset_days = np.where(is_first, 0.0, rng.uniform(0, 1, len(owner)) * alive_span[owner])
    placed_days_ago = age_days[owner] - offset_days
    totals = np.round(per_customer_value[owner] * rng.lognormal(0, 0.3, len(owner)), 2)
    status = rng.choice(["paid", "fulfilled", "refunded", "cancelled"], len(owner), p=[0.6, 0.34, 0.04, 0.02])
    placed = [AS_OF - dt.timedelta(days=float(d)) for d in placed_days_ago]
    contact_ids = buyers[owner].tolist()
    totals_list, status_list = totals.tolist(), status.tolist()
    for start in range(0, len(owner), batch):
        stop = min(start + batch, len(owner))
        Order.objects.bulk_create(
            [
                Order(
                    external_id=f"b{i}",
                    contact_id=contact_ids[i],
                    placed_at=placed[i],
                    total=totals_list[i],
                    status=status_list[i],
                )
                for i in range(start, stop)
            ],
            batch_size=batch,
        )
    # Engagement: an email open or a site visit for about half of the contacts.
    engaged = ids[rng.random(len(ids)) < 0.5]
    kinds = rng.choice(["email_open", "site_visit"], len(engaged)).tolist()
    days_ago = rng.uniform(0, 120, len(engaged)).tolist()
    engaged_list = engaged.tolist()
    for start in range(0, len(engaged_list), batch):
        Event.objects.bulk_create(
            [
                Event(
                    contact_id=engaged_list[i],
                    kind=kinds[i],
                    occurred_at=AS_OF - dt.timedelta(days=days_ago[i]),
                )
                for i in range(start, min(start + batch, len(engaged_list)))
            ],
            batch_size=batch,
        )
    Contact.objects.filter(pk__in=ids[::3].tolist()[:60_000]).update(email_consent=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would have done on a real shop
    return len(owner)


TYPICAL_SEGMENTS = {
    "At risk, reachable by email, no open in 30 days": {
        "op": "and",
        "rules": [
            {
                "field": "rfm_segment",
                "operator": "in",
                "value": ["At Risk", "Can't Lose Them", "Hibernating"],
            },
            {"field": "reachable", "operator": "is", "value": "email"},
            {"field": "email_opened", "operator": "not_within_last_days", "value": 30},
        ],
    },
    "Defecting high value": {
        "op": "and",
        "rules": [
            {"field": "lifecycle_stage", "operator": "in", "value": ["defecting"]},
            {"field": "clv_cluster", "operator": "in", "value": ["High", "Medium"]},
        ],
    },
    "2+ purchases in the last year, none in 90 days": {
        "op": "and",
        "rules": [
            {"field": "purchase_count", "operator": "gte", "value": 2, "period": {"last_days": 365}},
            {"field": "last_purchase", "operator": "more_than_days_ago", "value": 90},
        ],
    },
}


def pandas_baseline(as_of: dt.datetime):
    """What an analyst writes: read the orders, groupby, rank + cut, a regex segment map."""
    import pandas as pd

    df = pd.DataFrame.from_records(
        Order.objects.values_list("contact_id", "placed_at", "total", "status").iterator(chunk_size=50_000),
        columns=["contact_id", "placed_at", "total", "status"],
    )
    df = df[~df["status"].isin(["cancelled", "refunded"])]
    df["total"] = df["total"].astype(float)
    df["placed_at"] = pd.to_datetime(df["placed_at"], utc=True)
    table = df.groupby("contact_id").agg(
        first=("placed_at", "min"),
        last=("placed_at", "max"),
        frequency=("total", "size"),
        monetary=("total", "sum"),
    )
    table["monetary"] = table["monetary"].round(2)
    stamp = pd.Timestamp(as_of)
    table["recency"] = (stamp - table["last"]).dt.days
    n = len(table)

    def score(column: pd.Series, ascending: bool) -> pd.Series:
        # The usual qcut(rank(method="first")) splits ties arbitrarily; the mid-rank keeps them together,
        # the same rule as Winback, so the results can be compared.
        percentile = (column.rank(method="average", ascending=ascending) - 0.5) / n
        return pd.cut(
            percentile, bins=[0, 0.2, 0.4, 0.6, 0.8, 1.0], labels=[1, 2, 3, 4, 5], right=False
        ).astype(int)

    table["R"] = score(table["recency"], ascending=False)
    table["F"] = score(table["frequency"], ascending=True)
    table["M"] = score(table["monetary"], ascending=True)
    table["RFM"] = table["R"].astype(str) + table["F"].astype(str) + table["M"].astype(str)

    def char_class(spec: str) -> str:
        return f"[{spec}]"

    regex_map = {}
    for rule in rfm.DEFAULT_SEGMENT_MAP:
        pattern = "".join(char_class(rule.get(letter, "1-5")) for letter in "rfm")
        regex_map[f"^{pattern}$"] = rule["name"]
    table["segment"] = table["RFM"].replace(regex_map, regex=True)
    first_days = (stamp - table["first"]).dt.total_seconds() / 86400
    days = rfm.DEFAULT_LIFECYCLE_DAYS
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


def reference_bgnbd_fit(x, t_x, T):
    """A per-customer loop likelihood (math.lgamma) minimised with scipy's Nelder-Mead."""
    from scipy.optimize import minimize

    rows = list(zip(x.tolist(), t_x.tolist(), T.tolist(), strict=True))

    def negative_log_likelihood(log_params):
        r, alpha, a, b = (math.exp(v) for v in log_params)
        total = 0.0
        for xi, txi, Ti in rows:
            a1 = math.lgamma(r + xi) - math.lgamma(r) + r * math.log(alpha)
            a2 = math.lgamma(a + b) + math.lgamma(b + xi) - math.lgamma(b) - math.lgamma(a + b + xi)
            a3 = -(r + xi) * math.log(alpha + Ti)
            if xi > 0:
                a4 = math.log(a) - math.log(b + xi - 1) - (r + xi) * math.log(alpha + txi)
                total += a1 + a2 + max(a3, a4) + math.log1p(math.exp(-abs(a3 - a4)))
            else:
                total += a1 + a2 + a3
        return -total

    result = minimize(
        negative_log_likelihood,
        np.zeros(4),
        method="Nelder-Mead",
        options={"maxiter": 10_000, "maxfev": 10_000, "xatol": 1e-6, "fatol": 1e-8},
    )
    return np.exp(result.x), -result.fun, negative_log_likelihood


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--reference-customers", type=int, default=5_000, help="customers for the loop fit")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    ok = True
    try:
        print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
        with Timer(f"generate {args.contacts:,} contacts and their orders (bulk inserts)"):
            orders = generate(args.contacts, args.seed)
        print(f"  {orders:,} orders")

        print("RFM + lifecycle from the orders table")
        with Timer("Winback: one GROUP BY + numpy (RFM, segment, lifecycle)") as ours:
            buyer_ids, counts, days, totals, first_day_totals, first_ts, last_ts = _purchase_aggregates()
            now_ts = AS_OF.timestamp()
            recency = np.floor((now_ts - last_ts) / 86_400)
            r = rfm.quintile_scores(recency, higher_is_better=False)
            f = rfm.quintile_scores(counts)
            m = rfm.quintile_scores(np.round(totals, 2))
            rfm.segment_map_current().lookup(r, f, m)
            rfm.lifecycle_stages(
                recency_days=recency, first_purchase_days=(now_ts - first_ts) / 86_400, frequency=counts
            )
        with Timer("pandas: read orders, groupby, rank + cut, regex map") as baseline:
            table = pandas_baseline(AS_OF)
        print(f"  ratio pandas / Winback: {baseline.seconds / ours.seconds:.1f}x")

        with Timer("Winback scores_compute: the above + BG/NBD and Gamma-Gamma fit + CLV"):
            order = np.argsort(buyer_ids)
            columns = (buyer_ids, counts, days, totals, first_day_totals, first_ts, last_ts)
            buyer_ids, counts, days, totals, first_day_totals, first_ts, last_ts = (a[order] for a in columns)
            contact_ids = np.fromiter(
                Contact.objects.order_by("pk").values_list("pk", flat=True), dtype=np.int64
            )
            scores, fit, why = scores_compute(
                contact_ids=contact_ids,
                buyer_ids=buyer_ids,
                counts=counts,
                purchase_days=days,
                totals=totals,
                first_day_totals=first_day_totals,
                first_ts=first_ts,
                last_ts=last_ts,
                as_of=AS_OF,
            )

        position = np.searchsorted(contact_ids, table.index.to_numpy())
        checks = {
            "R": scores["r_score"][position] == table["R"].to_numpy(),
            "F": scores["f_score"][position] == table["F"].to_numpy(),
            "M": scores["m_score"][position] == table["M"].to_numpy(),
            "segment": scores["rfm_segment"][position] == table["segment"].to_numpy(),
            "stage": scores["lifecycle_stage"][position] == table["stage"].to_numpy(),
        }
        for name, agree in checks.items():
            print(f"  {name:<8} agree for {agree.mean():.4%} of {len(agree):,} buyers")
            ok &= bool(agree.all())
        ok &= len(table) == (scores["frequency"] > 0).sum()

        print("Full scoring run (read, compute, history, batched upsert of every contact)")
        with Timer("scoring_run_execute"):
            run = scoring_run_execute(run=ScoringRun.objects.create(), as_of=AS_OF)
        print(f"  status {run.status}, {run.contacts_scored:,} contacts, {run.changes_recorded:,} changes")
        ok &= run.status == "done" and ContactScore.objects.count() == len(contact_ids)
        if why:
            print(f"  CLV missing: {why}")
        else:
            print(f"  BG/NBD {fit['bgnbd']}")
            print(f"  Gamma-Gamma {fit['gamma_gamma']}")

        print("Typical segment counts (one SQL query each; relative dates as of the data's end)")
        from segments.rules import rules_compile

        for label, tree in TYPICAL_SEGMENTS.items():
            with Timer(label):
                size = Contact.objects.filter(rules_compile(tree, now=AS_OF)).count()
            print(f"    {size:,} contacts")

        print(f"BG/NBD fit on the first {args.reference_customers:,} buyers (same data for both)")
        k = args.reference_customers
        week = 7 * 86_400.0
        x = (days - 1.0)[:k]
        t_x = ((last_ts - first_ts) / week)[:k]
        T = ((AS_OF.timestamp() - first_ts) / week)[:k]
        with Timer("Winback: vectorised gammaln, compressed rows, L-BFGS-B") as fast:
            params = clv.bgnbd_fit(x, t_x, T)
        with Timer("reference: per-customer loop likelihood, Nelder-Mead") as slow:
            reference, reference_ll, reference_nll = reference_bgnbd_fit(x, t_x, T)
        print(f"  ratio reference / Winback: {slow.seconds / fast.seconds:.0f}x")
        ours_params = np.array([params.r, params.alpha, params.a, params.b])
        ll = params.log_likelihood
        print(f"  Winback   r, alpha, a, b = {np.round(ours_params, 4).tolist()}  LL {ll:.2f}")
        print(f"  reference r, alpha, a, b = {np.round(reference, 4).tolist()}  LL {reference_ll:.2f}")
        # The loop likelihood at Winback's parameters must equal Winback's likelihood, and Winback's optimum
        # must be at least as good as the reference's (Nelder-Mead may stop early on a flat a/b ridge).
        same_function = abs(-reference_nll(np.log(ours_params)) - params.log_likelihood) < 1e-6 * abs(
            reference_ll
        )
        agree = same_function and params.log_likelihood >= reference_ll - 0.01
        print(f"  same likelihood: {same_function}; Winback LL - reference LL = {ll - reference_ll:+.4f}")
        print(f"  fits agree: {agree}")
        ok &= agree
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print("RESULT:", "results agree" if ok else "RESULTS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
