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
