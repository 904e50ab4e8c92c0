import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Order
from segments.models import ContactScore, ScoreChange, ScoringRun
from segments.services import scoring_orders_upserted, scoring_run_execute, scoring_run_request
from tests.segments.helpers import AS_OF, contact, orders

pytestmark = pytest.mark.django_db


def _run(as_of=AS_OF) -> ScoringRun:
    return scoring_run_execute(run=ScoringRun.objects.create(), as_of=as_of)


def test_small_shop_scores_ties_refunds_and_non_buyers():
    never = contact()
    refunded_only = contact()
    orders(refunded_only, (10, 50, Order.Status.REFUNDED), (20, 40, Order.Status.CANCELLED))
    twins = [contact(), contact()]
    for twin in twins:
        orders(twin, (100, 30), (50, 30))
    loyal = contact()
    orders(loyal, (400, 80), (200, 80), (30, 80), (5, 80), (3, 20, Order.Status.REFUNDED))
    newbie = contact()
    orders(newbie, (7, 25))
    lapsed = contact()
    orders(lapsed, (500, 10))

    run = _run()
    assert run.status == "done", run.error
    assert run.contacts_scored == 7 and run.buyers == 5
    assert "CLV needs at least" in run.clv_missing_reason and run.clv_fit is None
    assert {
        "read purchases", "compute scores and CLV", "read previous values", "write changes", "write scores",
    } <= set(run.phase_seconds)  # fmt: skip

    scores = {s.contact_id: s for s in ContactScore.objects.all()}
    assert scores[never.pk].lifecycle_stage == "never" and scores[never.pk].r_score is None
    assert scores[refunded_only.pk].frequency == 0 and scores[refunded_only.pk].lifecycle_stage == "never"
    a, b = (scores[t.pk] for t in twins)
    assert (a.r_score, a.f_score, a.m_score, a.rfm_segment) == (
        b.r_score,
        b.f_score,
        b.m_score,
        b.rfm_segment,
    )
    assert scores[loyal.pk].frequency == 4  # the refund is not a purchase
    assert float(scores[loyal.pk].monetary_total) == 320
    assert float(scores[loyal.pk].monetary_avg) == 80
    assert scores[loyal.pk].recency_days == 5
    assert scores[loyal.pk].f_score == 5 and scores[loyal.pk].m_score == 5
    assert scores[loyal.pk].first_order_at == AS_OF - dt.timedelta(days=400)
    assert scores[loyal.pk].lifecycle_stage == "active"
    assert scores[newbie.pk].lifecycle_stage == "new"
    assert scores[lapsed.pk].lifecycle_stage == "lost"
    assert scores[lapsed.pk].rfm_segment in ("Lost", "Hibernating")
    assert a.lifecycle_stage == "active"  # 50 days
    assert all(s.p_alive is None and s.clv_cluster == "" for s in scores.values())


def _shop(n_buyers=120, seed=3):
    """A shop big enough for the CLV fit: repeat buyers with random histories."""
    rng = np.random.default_rng(seed)
    contacts = Contact.objects.bulk_create([Contact(email=f"b{i}@example.com") for i in range(n_buyers)])
    rows = []
    for i, c in enumerate(contacts):
        for k in range(int(rng.integers(1, 6))):
            rows.append(
                Order(
                    external_id=f"s{i}-{k}",
                    contact=c,
                    placed_at=AS_OF - dt.timedelta(days=int(rng.integers(1, 700))),
                    total=round(float(rng.gamma(3, 20)), 2),
                )
            )
    Order.objects.bulk_create(rows)
    return contacts


def test_clv_is_fitted_and_stored_when_there_is_enough_data():
    _shop()
    run = _run()
    assert run.clv_missing_reason == "" and run.clv_fit["bgnbd"]["r"] > 0
    assert run.clv_fit["gamma_gamma"]["q"] > 1
    rows = ContactScore.objects.all()
    assert all(0 < s.p_alive <= 1 and s.predicted_clv >= 0 and s.clv_cluster for s in rows)
    assert {s.clv_cluster for s in rows} <= {"Inactive", "Low", "Medium", "High"}
    assert len({s.clv_cluster for s in rows}) >= 3


def _queries_of_a_run(n_buyers: int) -> list[str]:
    ContactScore.objects.all().delete()
    Contact.objects.all().delete()
    _shop(n_buyers, seed=n_buyers)
    with CaptureQueriesContext(connection) as queries:
        run = _run()
    assert run.status == "done", run.error
    return [q["sql"] for q in queries.captured_queries]


def test_run_reads_orders_set_based_and_writes_in_batches():
    small = _queries_of_a_run(60)
    order_reads = [sql for sql in small if 'FROM "contacts_order"' in sql]
    if connection.vendor == "postgresql":
        assert order_reads == []  # one binary COPY of one GROUP BY query (Django does not log COPY)
    else:
        # One GROUP BY for the aggregates, one window query for the first purchase day's orders.
        assert len(order_reads) == 2
        assert "GROUP BY" in order_reads[0] and "OVER" in order_reads[1]
        assert 'placed_at" <= ' in order_reads[0]  # the as-of cut-off is in SQL
    # Claim, contacts, previous scores, one change batch, staging + one UPDATE + one INSERT, progress and
    # the final save: a constant, independent of the number of contacts.
    assert len(small) <= 28
    assert len(_queries_of_a_run(150)) == len(small)


def test_changes_are_recorded_only_when_a_value_changes():
    buyer = contact()
    orders(buyer, (10, 50))
    idle = contact()
    first = _run()
    assert set(ScoreChange.objects.filter(run=first).values_list("contact_id", "field", "old", "new")) == {
        (buyer.pk, "segment", "", "About To Sleep"),  # a lone buyer: R and M the median 3, F = 1
        (buyer.pk, "stage", "", "new"),
        (idle.pk, "stage", "", "never"),
    }
    second = _run(AS_OF + dt.timedelta(days=1))
    assert second.changes_recorded == 0 and not ScoreChange.objects.filter(run=second).exists()
    third = _run(AS_OF + dt.timedelta(days=200))
    assert set(ScoreChange.objects.filter(run=third).values_list("contact_id", "field", "old", "new")) == {
        (buyer.pk, "stage", "new", "defecting"),
    }
    assert third.changes_recorded == 1


def test_graceful_fit_failure_when_nobody_bought_twice():
    for i in range(60):
        orders(contact(), (i + 1, 10 + i))
    run = _run()
    assert run.status == "done"
    assert "bought more than once" in run.clv_missing_reason
    assert ContactScore.objects.filter(r_score__isnull=False).count() == 60
    assert not ContactScore.objects.filter(p_alive__isnull=False).exists()


def test_a_run_executes_once():
    run = ScoringRun.objects.create()
    scoring_run_execute(run=run, as_of=AS_OF)
    finished = run.finished_at
    again = scoring_run_execute(run=run, as_of=AS_OF)
    assert again.finished_at == finished and again.status == "done"


def test_requests_are_debounced_while_one_is_queued(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = scoring_run_request(trigger="admin")
        second = scoring_run_request(trigger="admin")
    assert first is not None and second is None
    assert len(callbacks) == 1


def test_only_large_order_batches_trigger_a_run(settings, django_capture_on_commit_callbacks):
    settings.WINBACK_SCORING_IMPORT_THRESHOLD = 1000
    with django_capture_on_commit_callbacks(execute=False):
        assert scoring_orders_upserted(order_ids=list(range(999))) is None
        run = scoring_orders_upserted(order_ids=list(range(1000)))
    assert run.trigger == "import" and run.status == "queued"


def test_orders_upserted_signal_reaches_the_receiver(settings, django_capture_on_commit_callbacks):
    from contacts.signals import orders_upserted
    from segments.apps import _orders_upserted

    assert _orders_upserted in orders_upserted._live_receivers(None)[0]
    settings.WINBACK_SCORING_IMPORT_THRESHOLD = 3
    with django_capture_on_commit_callbacks(execute=False):
        _orders_upserted(sender=None, order_ids=[1, 2, 3])
    assert ScoringRun.objects.filter(trigger="import").count() == 1


def test_failed_run_records_the_error(settings):
    settings.WINBACK_RFM_SEGMENTS = [{"name": "Only fives", "r": "5"}]  # leaves holes
    orders(contact(), (3, 10))
    run = _run()
    assert run.status == "failed" and "without a segment" in run.error


def test_lost_and_dead_runs_stop_blocking(django_capture_on_commit_callbacks):
    from django.utils import timezone

    long_ago = timezone.now() - dt.timedelta(hours=7)
    lost = ScoringRun.objects.create(status="queued", created_at=long_ago)
    dead = ScoringRun.objects.create(status="running", started_at=long_ago)
    with django_capture_on_commit_callbacks(execute=False):
        fresh = scoring_run_request(trigger="admin")
    assert fresh is not None
    lost.refresh_from_db()
    dead.refresh_from_db()
    assert lost.status == "failed" and "never started" in lost.error
    assert dead.status == "failed" and "worker lost" in dead.error


def test_as_of_cuts_off_later_orders():
    # Issue reproduction: orders on 2024-01-01 and 2024-06-01, as of 2024-03-01 gave frequency 2,
    # recency 0 and stage "active".
    buyer = contact()
    for day in ("2024-01-01", "2024-06-01"):
        Order.objects.create(
            external_id=f"cut-{day}",
            contact=buyer,
            placed_at=dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC),
            total=20,
        )
    run = _run(dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    score = ContactScore.objects.get(contact=buyer)
    assert (score.frequency, score.recency_days, score.lifecycle_stage) == (1, 60, "active")
    assert score.last_order_at == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert run.buyers == 1


def test_recency_counts_calendar_days_not_24_hour_blocks():
    # Issue reproduction: as of 12:00, orders 2 days ago at 09:00 and at 13:00 got recency 2 and 1.
    as_of = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    morning, afternoon = contact(), contact()
    for who, hour in ((morning, 9), (afternoon, 13)):
        Order.objects.create(
            external_id=f"cal-{hour}",
            contact=who,
            placed_at=dt.datetime(2026, 5, 30, hour, tzinfo=dt.UTC),
            total=20,
        )
    _run(as_of)
    assert set(ContactScore.objects.filter(frequency=1).values_list("recency_days", flat=True)) == {2}


def test_calendar_days_are_the_shops_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    buyer = contact()
    # 2026-05-31 02:00 UTC is still 2026-05-30 (22:00) in New York: two New York days before June 1st.
    Order.objects.create(
        external_id="tz", contact=buyer, placed_at=dt.datetime(2026, 5, 31, 2, tzinfo=dt.UTC), total=20
    )
    _run(dt.datetime(2026, 6, 1, 16, 0, tzinfo=dt.UTC))  # 12:00 in New York
    assert ContactScore.objects.get(contact=buyer).recency_days == 2


def test_a_look_back_run_reads_history_as_of_its_date_and_writes_nothing():
    buyer = contact()
    orders(buyer, (10, 50))
    first = _run()
    later = _run(AS_OF + dt.timedelta(days=200))
    assert not first.lookback and not later.lookback
    stored = list(ContactScore.objects.values_list("contact_id", "lifecycle_stage", "scored_at"))
    history = ScoreChange.objects.count()

    back = _run(AS_OF + dt.timedelta(days=5))  # before `later`: a look-back
    assert back.status == "done" and back.lookback
    # Against the history as it stood then (stage "new", recorded by `first`) nothing changed; against
    # today's scores ("defecting") it would have.
    assert back.changes_recorded == 0
    assert back.distribution["stages"] == {"new": 1}
    assert list(ContactScore.objects.values_list("contact_id", "lifecycle_stage", "scored_at")) == stored
    assert ScoreChange.objects.count() == history


def test_a_rerun_on_unchanged_data_writes_no_score_row():
    _shop(80)
    first = _run()
    assert first.scores_written == 80
    again = _run(AS_OF + dt.timedelta(hours=1))  # same calendar day: nothing moved
    assert again.scores_written == 0 and again.changes_recorded == 0
    assert set(ContactScore.objects.values_list("run_id", flat=True)) == {first.pk}
    day_later = _run(AS_OF + dt.timedelta(days=1))  # recency moved for every buyer
    assert day_later.scores_written == 80


def test_run_stores_the_score_distribution():
    _shop(120)
    run = _run()
    dist = run.distribution
    assert dist["buyers"] == 120
    assert sum(dist["histograms"]["f"]) == 120 and dist["histograms"]["f"][0] > 0  # F = 1 is used
    assert sum(cell["count"] for row in dist["grid"] for cell in row) == 120
    assert [cell["r"] for cell in dist["grid"][0]] == [5] * 5  # best recency on top
    assert dist["grid"][4][0]["segment"] == "Lost"
    assert sum(dist["segments"].values()) == 120


@pytest.mark.skipif(connection.vendor != "postgresql", reason="compares the PostgreSQL and ORM reads")
def test_the_postgresql_row_read_equals_the_orm_read(settings):
    """Same-day orders, refunds, orders after as_of, the calibration boundary, a shop time zone."""
    from segments.services import scoring_data as data

    settings.TIME_ZONE = "America/New_York"
    as_of = AS_OF + dt.timedelta(hours=3)
    boundary = data.day_start(data.shop_day(as_of) - data.HOLDOUT_DAYS + 1)
    for hours in (0, 1, 20, 30):
        person = contact()
        orders(person, (400, 10.10), (400, 5.05), (3, 7.77), (1, 99.99, "refunded"), (-2, 50))
        placed_at = boundary - dt.timedelta(hours=hours)
        Order.objects.create(external_id=f"edge{hours}", contact=person, placed_at=placed_at, total=3.3)
    once = contact()
    orders(once, (10, 1.01))
    rows = data._purchases_read_postgresql(as_of=as_of)
    expected = data._purchases_read_orm(as_of=as_of)
    for name in expected.__dataclass_fields__:
        assert np.array_equal(getattr(rows, name), getattr(expected, name)), name
