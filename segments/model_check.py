"""The model check: can the marketer trust the CLV model on this shop's own data?

A calibration/holdout test, the standard check of Fader, Hardie & Lee (2005, figure 4): fit the models as
of 26 weeks before the run's date (the calibration period), predict each buyer's repeat purchases in the
26 weeks after (the holdout), and compare with what really happened:

- by frequency group (buyers with 0, 1, ..., 6 and 7+ repeat purchases in calibration): mean predicted
  vs mean actual purchases in the holdout (the classic "predicted vs actual" chart);
- per value cluster (assigned as of the calibration end): buyers, predicted and actual purchases, and
  the share who bought at all; the line for "Inactive" says whether that label can be trusted (a warning
  when "Inactive" buyers bought more than twice what the model expected).

The accuracy figure is ``1 - sum_g |predicted_g - actual_g| / sum_g actual_g`` over the frequency groups
(g: group totals), i.e. one minus the weighted absolute percentage error; 100 % is perfect. Verdict:
at least 90 % "good", at least 75 % "fair", otherwise "poor".

Pure functions over numpy arrays; `segments.services.scoring` feeds them.
"""

from __future__ import annotations

import numpy as np

from segments import clv

HOLDOUT_WEEKS = 26
GOOD, FAIR = 0.90, 0.75
GROUPS = ["0", "1", "2", "3", "4", "5", "6", "7+"]


def verdict(accuracy: float) -> tuple[str, str]:
    if accuracy >= GOOD:
        return "good", (
            "Good: over the last 26 weeks the model predicted repeat purchases closely. Its clusters, "
            "including “Inactive”, can be trusted for targeting."
        )
    if accuracy >= FAIR:
        return "fair", (
            "Fair: the model gets the overall picture right but misses some groups by a margin. Use its "
            "clusters, and look at the group lines below before writing off “Inactive” buyers."
        )
    return "poor", (
        "Poor: the model's predictions for the last 26 weeks were far from what happened. Do not rely on "
        "CLV or “Inactive” for this shop yet; use RFM segments and lifecycle stages instead."
    )


def model_check(
    *,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    m: np.ndarray,
    holdout_purchases: np.ndarray,
    holdout_weeks: float = HOLDOUT_WEEKS,
    settings: dict | None = None,
) -> dict:
    """Fit on calibration arrays (x repeat purchases, t_x and T in weeks up to the calibration end, m the
    average repeat value), predict `holdout_weeks` ahead and compare with `holdout_purchases`.

    Raises clv.ClvFitError when the calibration period has too little data."""
    x = np.asarray(x, dtype=float)
    actual = np.asarray(holdout_purchases, dtype=float)
    result = clv.clv_predict(x=x, t_x=t_x, T=T, m=m, settings=settings)
    fitted = {k: v for k, v in result.fit["bgnbd"].items() if k in clv.BgNbdParams.__dataclass_fields__}
    params = clv.BgNbdParams(**fitted)
    predicted = clv.bgnbd_expected_purchases(params, holdout_weeks, x, t_x, T)

    group = np.minimum(x, 7).astype(int)
    by_frequency = []
    for index, label in enumerate(GROUPS):
        members = group == index
        n = int(members.sum())
        if not n:
            continue
        by_frequency.append(
            {
                "group": label,
                "buyers": n,
                "predicted": float(predicted[members].mean()),
                "actual": float(actual[members].mean()),
                "predicted_total": float(predicted[members].sum()),
                "actual_total": float(actual[members].sum()),
            }
        )
    by_cluster = []
    for name in ("High", "Medium", "Low", "Inactive"):
        members = result.cluster == name
        n = int(members.sum())
        if not n:
            continue
        by_cluster.append(
            {
                "cluster": name,
                "buyers": n,
                "predicted": float(predicted[members].mean()),
                "actual": float(actual[members].mean()),
                "bought_share": float((actual[members] > 0).mean()),
            }
        )
    actual_total = sum(g["actual_total"] for g in by_frequency)
    error = sum(abs(g["predicted_total"] - g["actual_total"]) for g in by_frequency)
    accuracy = max(0.0, 1.0 - error / actual_total) if actual_total > 0 else 0.0
    level, words = verdict(accuracy)
    inactive = next((c for c in by_cluster if c["cluster"] == "Inactive"), None)
    inactive_note = ""
    if inactive:
        inactive_note = (
            f"Of the {inactive['buyers']:,} buyers the model called “Inactive” 26 weeks ago, "
            f"{inactive['bought_share']:.1%} bought again since ({inactive['actual']:.2f} purchases each; "
            f"the model expected {inactive['predicted']:.2f})."
        )
        if inactive["actual"] > 2 * inactive["predicted"] + 0.05:
            inactive_note += " They bought clearly more than predicted: treat “Inactive” with care."
    return {
        "holdout_weeks": holdout_weeks,
        "buyers": len(x),
        "model": params.model,
        "fit": {k: fitted[k] for k in ("r", "alpha", "a", "b", "log_likelihood")},
        "predicted_total": float(predicted.sum()),
        "actual_total": float(actual.sum()),
        "accuracy": float(accuracy),
        "verdict": level,
        "verdict_text": words,
        "inactive_note": inactive_note,
        "by_frequency": by_frequency,
        "by_cluster": by_cluster,
    }
