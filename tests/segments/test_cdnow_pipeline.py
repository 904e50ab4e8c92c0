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
