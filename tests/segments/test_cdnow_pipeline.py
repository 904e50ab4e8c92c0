"""The whole scoring run on the CDNOW transactions (calibration period) lands near the published fit."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from contacts.models import Contact, Order
from segments.models import ContactScore, ScoringRun
from segments.services import scoring_run_execute

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = dt.datetime(1997, 10, 1, tzinfo=dt.UTC)  # orders of weeks 1-39: before this
AGE_AT = dt.datetime(1997, 9, 30, tzinfo=dt.UTC)  # T is measured to the end of week 39 (38.86 weeks)


@pytest.mark.django_db
def test_scoring_run_on_cdnow_transactions_matches_the_published_model():
    rows = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    customers = sorted({int(r[0]) for r in rows})
    contacts = Contact.objects.bulk_create([Contact(external_id=str(c)) for c in customers])
    by_customer = {int(c.external_id): c.pk for c in contacts}
    orders = []
    for i, (customer, _sample_id, day, _cds, value) in enumerate(rows):
        placed = dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC)
        if placed < CALIBRATION_END:
            orders.append(
                Order(
                    external_id=f"cd{i}",
                    contact_id=by_customer[int(customer)],
                    placed_at=placed,
                    total=Decimal(value),
                )
            )
    Order.objects.bulk_create(orders, batch_size=2000)

    run = scoring_run_execute(run=ScoringRun.objects.create(), as_of=AGE_AT)
    assert run.status == "done" and run.clv_missing_reason == ""
    assert run.buyers == 2357
    fit = run.clv_fit["bgnbd"]
    # Repeat purchases are distinct purchase days and T runs to the end of week 39, as in the paper.
    assert fit["r"] == pytest.approx(0.243, abs=0.01)
    assert fit["alpha"] == pytest.approx(4.414, rel=0.01)
    assert fit["a"] == pytest.approx(0.793, abs=0.01)
    assert fit["b"] == pytest.approx(2.426, rel=0.01)
    assert fit["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    # Gamma-Gamma on the average value of the repeat purchase days (first day left out).
    spend = run.clv_fit["gamma_gamma"]
    assert spend["p"] == pytest.approx(6.25, abs=0.01)
    assert spend["q"] == pytest.approx(3.74, abs=0.01)
    assert spend["v"] == pytest.approx(15.44, abs=0.01)
    assert ContactScore.objects.filter(p_alive__isnull=False).count() == 2357
    assert ContactScore.objects.filter(clv_cluster="").count() == 0


def _load_all_cdnow() -> None:
    rows = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    contacts = Contact.objects.bulk_create(
        [Contact(external_id=str(c)) for c in sorted({int(r[0]) for r in rows})]
    )
    by_customer = {int(c.external_id): c.pk for c in contacts}
    Order.objects.bulk_create(
        [
            Order(
                external_id=f"cd{i}",
                contact_id=by_customer[int(customer)],
                placed_at=dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC),
                total=Decimal(value),
            )
            for i, (customer, _sample_id, day, _cds, value) in enumerate(rows)
        ],
        batch_size=2000,
    )


@pytest.mark.django_db
def test_cdnow_full_log_fills_the_segments_and_checks_the_model():
    _load_all_cdnow()
    run = scoring_run_execute(run=ScoringRun.objects.create(), as_of=dt.datetime(1998, 6, 30, tzinfo=dt.UTC))
    assert run.status == "done", run.error
    dist = run.distribution
    # 59 % of CDNOW's buyers ordered once: they all score F = 1, repeat buyers spread over F = 2..5.
    assert dist["histograms"]["f"][0] == ContactScore.objects.filter(frequency=1).count() > 0.5 * run.buyers
    assert all(count > 0 for count in dist["histograms"]["f"])
    empty = {name for name, count in dist["segments"].items() if count == 0}
    # Everyone joined in the first quarter of 1997, so a one-order buyer's last purchase is 15+ months old:
    # "New Customers" (R 5, F 1) and "Promising" (R 4, F 1) cannot exist in this data. All others do.
    assert empty <= {"New Customers", "Promising"}
    assert dist["segments"]["Lost"] > 0
    # Model check: fit as of 1997-12-30, predict the 26 weeks to 1998-06-30, compare.
    check = run.model_check
    assert run.model_check_missing_reason == "" and check["holdout_weeks"] == 26
    assert check["buyers"] == 2357
    assert check["actual_total"] == pytest.approx(sum(g["actual_total"] for g in check["by_frequency"]))
    assert check["accuracy"] > 0.75 and check["verdict"] in ("good", "fair")
