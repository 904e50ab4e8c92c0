"""BG/NBD and Gamma-Gamma against the published CDNOW estimates (tests/data/cdnow, see its README)."""

from pathlib import Path

import numpy as np
import pytest

from segments import clv

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow"


@pytest.fixture(scope="module")
def cdnow():
    return np.genfromtxt(CDNOW / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True)


def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow):
    params = clv.bgnbd_fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert params.r == pytest.approx(0.243, abs=0.01)
    assert params.alpha == pytest.approx(4.414, rel=0.01)
    assert params.a == pytest.approx(0.793, abs=0.01)
    assert params.b == pytest.approx(2.426, rel=0.01)
    assert params.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_reproduces_published_estimates(cdnow):
    params = clv.gamma_gamma_fit(cdnow["x"], cdnow["zbar"])
    assert params.p == pytest.approx(6.25, abs=0.01)
    assert params.q == pytest.approx(3.74, abs=0.01)
    assert params.v == pytest.approx(15.44, abs=0.01)


def _scalar_bgnbd_log_likelihood(r, alpha, a, b, x, t_x, T):
    """The likelihood written per customer with math, to check the vectorised one."""
    import math

    total = 0.0
    for xi, txi, Ti in zip(x, t_x, T, strict=True):
        a1 = math.lgamma(r + xi) - math.lgamma(r) + r * math.log(alpha)
        a2 = math.lgamma(a + b) + math.lgamma(b + xi) - math.lgamma(b) - math.lgamma(a + b + xi)
        a3 = -(r + xi) * math.log(alpha + Ti)
        value = math.exp(a3)
        if xi > 0:
            value += math.exp(math.log(a) - math.log(b + xi - 1) - (r + xi) * math.log(alpha + txi))
        total += a1 + a2 + math.log(value)
    return total


def test_vectorised_likelihood_matches_scalar_formula(cdnow):
    vectorised = clv.bgnbd_log_likelihood_terms(
        0.243, 4.414, 0.793, 2.426, cdnow["x"], cdnow["t_x"], cdnow["T"]
    )
    scalar = _scalar_bgnbd_log_likelihood(0.243, 4.414, 0.793, 2.426, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert vectorised.sum() == pytest.approx(scalar, rel=1e-10)
    assert vectorised.sum() == pytest.approx(-9582.4, abs=0.5)


def test_predictions_on_cdnow_are_sensible(cdnow):
    params = clv.bgnbd_fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    p_alive = clv.bgnbd_p_alive(params, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert ((p_alive > 0) & (p_alive <= 1)).all()
    assert (p_alive[cdnow["x"] == 0] == 1).all()  # BG/NBD: no dropout before a repeat purchase
    # Expected repeat purchases in weeks 40-78 summed over the cohort: FHL 2005 report ~1,800 observed.
    expected = clv.bgnbd_expected_purchases(params, 39, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert 1500 < expected.sum() < 2200
    # Someone who bought often but long ago is less likely alive than someone who bought recently.
    stale, fresh = clv.bgnbd_p_alive(
        params, np.array([5.0, 5.0]), np.array([5.0, 38.0]), np.array([39.0, 39.0])
    )
    assert stale < fresh
    gg = clv.gamma_gamma_fit(cdnow["x"], cdnow["zbar"])
    value = clv.gamma_gamma_expected_value(gg, np.array([0.0, 10.0]), np.array([0.0, 100.0]))
    assert value[0] == pytest.approx(gg.p * gg.v / (gg.q - 1))
    assert 90 < value[1] < 100  # shrunk towards the population mean


def test_clv_predict_discounts_and_clusters(cdnow):
    result = clv.clv_predict(x=cdnow["x"], t_x=cdnow["t_x"], T=cdnow["T"], m=cdnow["zbar"])
    assert np.isfinite(result.predicted_clv).all() and (result.predicted_clv >= 0).all()
    undiscounted = result.expected_purchases * result.expected_order_value
    assert (result.predicted_clv <= undiscounted + 1e-9).all()
    assert set(result.cluster) == {"Inactive", "Low", "Medium", "High"}
    inactive = result.cluster == "Inactive"
    assert ((result.p_alive < 0.2) | (result.expected_purchases < 0.05))[inactive].all()
    assert not ((result.p_alive < 0.2) | (result.expected_purchases < 0.05))[~inactive].any()
    high = result.cluster == "High"
    assert result.predicted_clv[high].min() > result.predicted_clv[result.cluster == "Low"].max()
    assert result.fit["bgnbd"]["r"] == pytest.approx(0.243, abs=0.01)


def test_no_repeat_buyers_is_a_clear_fit_error():
    x = np.zeros(200)
    with pytest.raises(clv.ClvFitError, match="repeat"):
        clv.clv_predict(x=x, t_x=x, T=np.full(200, 10.0), m=np.full(200, 20.0))


def test_too_few_buyers_is_a_clear_fit_error():
    with pytest.raises(clv.ClvFitError, match="Only 3 customers"):
        clv.clv_predict(
            x=np.array([1.0, 2, 0]), t_x=np.array([1.0, 2, 0]), T=np.full(3, 5.0), m=np.full(3, 9.0)
        )


def test_gamma_gamma_likelihood_is_a_density():
    # For one customer with x=1 the likelihood integrates to 1 over m (a proper density).
    ms = np.linspace(1e-6, 5000, 2_000_001)
    density = np.exp(clv.gamma_gamma_log_likelihood_terms(6.25, 3.74, 15.44, np.ones_like(ms), ms))
    assert np.trapezoid(density, ms) == pytest.approx(1.0, abs=1e-3)


def _no_dropout_shop(buyers: int, seed: int = 1):
    """Buyers who never drop out (a Poisson process each, gamma-distributed rates), first purchases spread
    over two years with second-resolution timestamps, put on the day grid as the scoring run does."""
    rng = np.random.default_rng(seed)
    as_of = 1_780_000_000
    first = as_of - rng.uniform(0, 730 * 86_400, buyers)
    age = as_of - first
    x = rng.poisson(rng.gamma(0.5, 1 / 60, buyers) / 86_400 * age)
    last = np.where(x > 0, first + age * rng.beta(np.maximum(x, 1), 1), first)
    t_x, T = clv.day_grid_weeks(first // 86_400, last // 86_400, as_of // 86_400)
    return x, t_x, T, rng


def test_no_dropout_shop_at_a_million_buyers_falls_back_to_the_nbd_without_stalling():
    """Issue: L-BFGS-B ended ABNORMAL (a and b ran off) and Nelder-Mead then took 795 s. Now: bounded
    parameters, an iteration cap, no derivative-free fallback, and the NBD limit model named."""
    x, t_x, T, _ = _no_dropout_shop(1_000_000)
    assert len(np.unique(np.column_stack([x, t_x, T]), axis=0)) < 500_000  # the day grid compresses
    params = clv.bgnbd_fit(x, t_x, T)
    assert params.model == "nbd" and params.a is None
    assert "no drop-out" in params.fallback_reason
    assert params.iterations <= 2 * clv.MAX_ITERATIONS + clv.MAX_ITERATIONS  # BG/NBD (with a restart) + NBD
    assert params.grid_rows < 500_000
    assert params.r == pytest.approx(0.5, rel=0.05)  # the simulated gamma shape


def test_limit_model_predicts_and_clusters(settings):
    x, t_x, T, rng = _no_dropout_shop(20_000, seed=2)
    result = clv.clv_predict(x=x, t_x=t_x, T=T, m=rng.gamma(6, 10, len(x)))
    assert result.fit["model"] == "nbd" and "no drop-out" in result.fit["fallback_reason"]
    assert (result.p_alive == 1).all()  # no drop-out: everyone is alive
    # Linear in time for the NBD: (r + x) / (alpha + T) per week.
    b = result.fit["bgnbd"]
    expected = (b["r"] + x) / (b["alpha"] + T) * (365 / 7)
    assert np.allclose(result.expected_purchases, expected)
    assert set(result.cluster) <= {"High", "Medium", "Low", "Inactive"}


def test_cdnow_fit_is_not_a_fallback_and_reports_its_grid(cdnow):
    params = clv.bgnbd_fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert params.model == "bgnbd" and params.fallback_reason == ""
    assert 0 < params.iterations < clv.MAX_ITERATIONS
    assert params.grid_rows <= len(cdnow["x"])


def test_compress_keeps_rows_and_weights():
    a = np.array([1.0, 2.0, 1.0, 2.0, 3.0])
    b = np.array([0.5, 0.5, 0.5, 0.25, 0.5])
    (ua, ub), weight, inverse = clv._compress(a, b)
    assert list(zip(ua, ub, strict=True)) == [(1.0, 0.5), (2.0, 0.25), (2.0, 0.5), (3.0, 0.5)]
    assert weight.tolist() == [2, 1, 1, 1]
    assert (ua[inverse] == a).all() and (ub[inverse] == b).all()
