"""The calibration/holdout model check on a simulated shop whose true BG/NBD parameters are known."""

import numpy as np
import pytest

from segments import clv, model_check

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}  # weekly rates, close to CDNOW's


def _simulate(buyers: int, *, calibration_weeks: float, holdout_weeks: float, seed: int, **params):
    """Per buyer: repeat purchases, t_x and T (weeks) in the calibration period, and repeat purchases in
    the holdout; purchases on a day grid, first purchases spread over the first 12 weeks."""
    p = {**TRUE, **params}
    rng = np.random.default_rng(seed)
    rate = rng.gamma(p["r"], 1 / p["alpha"], buyers)  # purchases per week while alive
    dropout = rng.beta(p["a"], p["b"], buyers)
    first = np.floor(rng.uniform(0, 12 * 7, buyers)) / 7  # whole days
    end = calibration_weeks + holdout_weeks
    now = first.copy()
    alive = np.ones(buyers, dtype=bool)
    x = np.zeros(buyers)
    t_x = np.zeros(buyers)
    holdout = np.zeros(buyers)
    while alive.any():
        gap = rng.exponential(1 / np.maximum(rate, 1e-12))
        now = np.where(alive, np.ceil((now + gap) * 7) / 7, now)  # the next purchase day
        alive &= now < end
        in_calibration = alive & (now < calibration_weeks)
        x += in_calibration
        t_x = np.where(in_calibration, now - first, t_x)
        holdout += alive & (now >= calibration_weeks)
        alive &= rng.random(buyers) >= dropout  # may drop out right after each repeat purchase
    return x, t_x, calibration_weeks - first, holdout, rng


def test_model_check_on_a_simulated_shop_with_known_parameters():
    x, t_x, T, holdout, rng = _simulate(30_000, calibration_weeks=52, holdout_weeks=26, seed=4)
    check = model_check.model_check(
        x=x, t_x=t_x, T=T, m=rng.gamma(6, 5, len(x)) * (x > 0), holdout_purchases=holdout, holdout_weeks=26
    )
    fit = check["fit"]
    assert fit["r"] == pytest.approx(TRUE["r"], rel=0.15)
    assert fit["alpha"] == pytest.approx(TRUE["alpha"], rel=0.2)
    assert fit["a"] == pytest.approx(TRUE["a"], rel=0.25)
    assert fit["b"] == pytest.approx(TRUE["b"], rel=0.3)
    # The model is the true one, so predictions match what happened within sampling noise.
    assert check["predicted_total"] == pytest.approx(check["actual_total"], rel=0.05)
    assert check["accuracy"] >= 0.9 and check["verdict"] == "good"
    assert "trusted" in check["verdict_text"]
    groups = {g["group"]: g for g in check["by_frequency"]}
    assert list(groups) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(g["buyers"] for g in groups.values()) == len(x)
    for label in ("0", "1", "2"):  # the big groups: mean predicted within 15 % of mean actual
        assert groups[label]["predicted"] == pytest.approx(groups[label]["actual"], rel=0.15)
    clusters = {c["cluster"]: c for c in check["by_cluster"]}
    assert "Inactive" in clusters and "High" in clusters
    # "Inactive" buyers really buy much less than the high-value ones in the next 26 weeks.
    assert clusters["Inactive"]["actual"] < 0.25 * clusters["High"]["actual"]


def test_accuracy_and_verdict_from_group_totals():
    assert model_check.verdict(0.95)[0] == "good"
    assert model_check.verdict(0.8)[0] == "fair"
    assert model_check.verdict(0.5)[0] == "poor"


def test_a_wrong_model_gets_a_worse_verdict():
    """Holdout purchases that do not follow the calibration pattern (everyone suddenly buys 3 times as
    often) cannot be predicted: the check says so."""
    x, t_x, T, holdout, rng = _simulate(10_000, calibration_weeks=52, holdout_weeks=26, seed=5)
    check = model_check.model_check(
        x=x, t_x=t_x, T=T, m=rng.gamma(6, 5, len(x)) * (x > 0), holdout_purchases=holdout * 3
    )
    assert check["verdict"] == "poor" and check["accuracy"] < 0.75


def test_too_little_calibration_data_is_a_clear_error():
    with pytest.raises(clv.ClvFitError):
        model_check.model_check(
            x=np.zeros(10), t_x=np.zeros(10), T=np.ones(10), m=np.zeros(10), holdout_purchases=np.zeros(10)
        )
