"""The numbers of a scoring run, vectorised over the arrays of `scoring_data` (no database)."""

from __future__ import annotations

import numpy as np
from django.conf import settings

from segments import clv as clv_model
from segments import rfm
from segments.model_check import HOLDOUT_WEEKS, model_check
from segments.services.scoring_data import HOLDOUT_DAYS, Purchases


def clv_settings_current() -> dict:
    return {**clv_model.DEFAULT_CLV_SETTINGS, **getattr(settings, "WINBACK_CLV", {})}


def _repeat_value(x: np.ndarray, totals: np.ndarray, first_day_totals: np.ndarray) -> np.ndarray:
    """Average value of the repeat purchase days (the first day's spend left out), 0 without repeats."""
    return np.where(x > 0, (totals - first_day_totals) / np.maximum(x, 1), 0.0)


def scores_compute(
    *, contact_ids: np.ndarray, purchases: Purchases, as_of_day: int
) -> tuple[dict[str, np.ndarray], dict | None, str]:
    """Scores for all contacts (arrays aligned to sorted `contact_ids`), the CLV fit, why CLV is missing.

    `purchases` must hold only buyers in `contact_ids`. Recency and the CLV day grid are whole calendar
    days: `as_of_day` and the purchase days are shop day numbers."""
    n = len(contact_ids)
    p = purchases
    totals = np.round(p.totals, 2)  # cents: float sums must not break ties between equal spenders
    position = np.searchsorted(contact_ids, p.buyer_ids)

    frequency = np.zeros(n, dtype=np.int64)
    frequency[position] = p.counts
    monetary_total = np.zeros(n)
    monetary_total[position] = totals
    first = np.full(n, np.nan)
    first[position] = p.first_ts
    last = np.full(n, np.nan)
    last[position] = p.last_ts
    recency = np.full(n, np.nan)
    recency[position] = np.maximum(as_of_day - p.last_day, 0)
    first_days = np.full(n, np.nan)
    first_days[position] = np.maximum(as_of_day - p.first_day, 0)

    out: dict[str, np.ndarray] = {
        "frequency": frequency,
        "monetary_total": monetary_total,
        "monetary_avg": np.where(frequency > 0, monetary_total / np.maximum(frequency, 1), np.nan),
        "first_ts": first,
        "last_ts": last,
        "recency_days": recency,
    }
    r = np.zeros(n, dtype=np.int16)
    f = np.zeros(n, dtype=np.int16)
    m = np.zeros(n, dtype=np.int16)
    segment = np.full(n, "", dtype=object)
    if len(p.buyer_ids):
        r[position] = rfm.quintile_scores(recency[position], higher_is_better=False)
        f[position] = rfm.frequency_scores(p.counts)
        m[position] = rfm.quintile_scores(totals)
        segment[position] = rfm.segment_map_current().lookup(r[position], f[position], m[position])
    out.update(r_score=r, f_score=f, m_score=m, rfm_segment=segment)
    out["lifecycle_stage"] = rfm.lifecycle_stages(
        recency_days=recency,
        first_purchase_days=first_days,
        frequency=frequency,
        days=rfm.lifecycle_days_current(),
    )

    for name in ("p_alive", "expected_purchases", "expected_order_value", "predicted_clv"):
        out[name] = np.full(n, np.nan)
    out["clv_cluster"] = np.full(n, "", dtype=object)
    # BG/NBD counts repeat purchase *days* (several orders on one day are one purchase occasion) on the
    # day grid; Gamma-Gamma wants the average value of those repeat purchases.
    x = p.days - 1.0
    t_x, T = clv_model.day_grid_weeks(p.first_day, p.last_day, as_of_day)
    try:
        result = clv_model.clv_predict(
            x=x, t_x=t_x, T=T, m=_repeat_value(x, totals, p.first_day_totals), settings=clv_settings_current()
        )
    except clv_model.ClvFitError as exc:
        return out, None, str(exc)
    out["p_alive"][position] = result.p_alive
    out["expected_purchases"][position] = result.expected_purchases
    out["expected_order_value"][position] = result.expected_order_value
    out["predicted_clv"][position] = result.predicted_clv
    out["clv_cluster"][position] = result.cluster
    return out, result.fit, ""


def model_check_compute(*, purchases: Purchases, as_of_day: int) -> tuple[dict | None, str]:
    """The calibration/holdout check (segments.model_check) for the buyers who had bought by the
    calibration end (26 weeks before as_of), or why it could not be done."""
    p = purchases
    calibration_end = as_of_day - HOLDOUT_DAYS
    known = p.calibration_days > 0
    if not known.any():
        return None, "No buyer had purchased 26 weeks before the run's date, so there is nothing to check."
    x = p.calibration_days[known] - 1.0
    t_x, T = clv_model.day_grid_weeks(p.first_day[known], p.calibration_last_day[known], calibration_end)
    m = _repeat_value(x, p.calibration_totals[known], p.first_day_totals[known])
    try:
        check = model_check(
            x=x,
            t_x=t_x,
            T=T,
            m=m,
            holdout_purchases=p.holdout_days[known],
            holdout_weeks=HOLDOUT_WEEKS,
            settings=clv_settings_current(),
        )
    except clv_model.ClvFitError as exc:
        return None, f"Not enough data 26 weeks back: {exc}"
    return check, ""


def distribution_compute(scores: dict[str, np.ndarray]) -> dict:
    """R, F and M histograms (buyers per score), the 5x5 R x F grid with each cell's segment and count, and
    buyers per segment, stage and cluster: what the run page shows."""
    buyer = scores["frequency"] > 0
    r, f = scores["r_score"][buyer].astype(int), scores["f_score"][buyer].astype(int)
    histograms = {
        letter: np.bincount(scores[f"{letter}_score"][buyer].astype(int), minlength=6)[1:].tolist()
        for letter in ("r", "f", "m")
    }
    counts = np.zeros((5, 5), dtype=int)
    if buyer.any():
        np.add.at(counts, (r - 1, f - 1), 1)
    segment_map = rfm.segment_map_current()
    # The grid's cell name at M = 3 (the default map decides on R and F only).
    grid = [
        [
            {
                "r": rr,
                "f": ff,
                "segment": segment_map.name_for(rr, ff, 3),
                "count": int(counts[rr - 1, ff - 1]),
            }
            for ff in range(1, 6)
        ]
        for rr in range(5, 0, -1)
    ]

    def tally(values: np.ndarray) -> dict[str, int]:
        names, number = np.unique(values.astype(str), return_counts=True)
        return {str(k): int(v) for k, v in zip(names, number, strict=True)}

    segments = dict.fromkeys(segment_map.names, 0)
    segments.update(tally(scores["rfm_segment"][buyer]))
    return {
        "buyers": int(buyer.sum()),
        "histograms": histograms,
        "grid": grid,
        "segments": segments,
        "stages": tally(scores["lifecycle_stage"]),
        "clusters": tally(scores["clv_cluster"][buyer]),
    }
