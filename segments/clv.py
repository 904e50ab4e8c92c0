"""Customer lifetime value: BG/NBD and Gamma-Gamma, fitted by maximum likelihood with numpy/scipy.

Pure functions over numpy arrays (no database), vectorised; customers with the same (x, t_x, T) are
collapsed into one weighted row before fitting, so a fit on 1M customers costs a few thousand rows per
likelihood evaluation.

Notation (Fader, Hardie & Lee 2005): x repeat purchases, t_x time of the last purchase and T age, both
measured in weeks from the first purchase. Gamma-Gamma: m average value of the repeat purchases (zbar).

- BG/NBD: "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model", Marketing
  Science 24(2), 2005. CDNOW estimates r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4.
- Gamma-Gamma: "RFM and CLV: Using Iso-value Curves for Customer Base Analysis", JMR 42(4), 2005, and
  Fader & Hardie's note "The Gamma-Gamma Model of Monetary Value" (2013): p=6.25, q=3.74, gamma=15.44.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

DEFAULT_CLV_SETTINGS = {
    "horizon_days": 365,  # predicted CLV and expected purchases cover this many days
    "annual_discount_rate": 0.10,
    "inactive_p_alive": 0.2,  # below this probability of being alive a buyer is "Inactive"
    # ... and so is a buyer expected to buy less than this often over the horizon: BG/NBD lets customers
    # drop out only right after a purchase, so a one-order customer stays "alive" (P=1) however old.
    "inactive_expected_purchases": 0.05,
    "high_quantile": 0.8,  # active buyers at or above this CLV quantile are "High"
    "min_buyers": 50,
    "min_repeat_buyers": 20,
}


class ClvFitError(Exception):
    """Why CLV could not be fitted (shown to the marketer)."""


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float
    log_likelihood: float


def _compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the given columns and how many customers share each."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


# --- BG/NBD -------------------------------------------------------------------


def bgnbd_log_likelihood_terms(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood (FHL 2005, eq. 6), vectorised."""
    x = np.asarray(x, dtype=float)
    repeat = x > 0
    x1 = np.where(repeat, x, 1.0)  # keeps log(b + x - 1) finite where the term is unused
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(repeat, np.log(a) - np.log(b + x1 - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def bgnbd_fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BgNbdParams:
    """Maximum likelihood on log-parameters (L-BFGS-B, polished with Nelder-Mead)."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        raise ClvFitError("No customers to fit.")
    if not np.any(x > 0):
        raise ClvFitError("No customer has bought more than once, so repeat buying cannot be estimated.")
    (ux, utx, uT), weight = _compress(x, t_x, T)
    total = weight.sum()

    def objective(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        value = -(weight * bgnbd_log_likelihood_terms(r, alpha, a, b, ux, utx, uT)).sum() / total
        return float(value) if np.isfinite(value) else 1e10

    result = _minimize(objective, np.zeros(4))
    r, alpha, a, b = np.exp(result.x)
    log_likelihood = -result.fun * total
    if not np.all(np.isfinite([r, alpha, a, b, log_likelihood])):
        raise ClvFitError("The BG/NBD fit did not converge (non-finite parameters).")
    return BgNbdParams(float(r), float(alpha), float(a), float(b), float(log_likelihood))


def _minimize(objective, start: np.ndarray):
    bounds = [(-12.0, 12.0)] * len(start)
    first = minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    polished = minimize(
        objective, first.x, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 4000}
    )
    best = polished if polished.fun <= first.fun else first
    if not np.isfinite(best.fun) or best.fun >= 1e10:
        raise ClvFitError(f"The fit did not converge: {first.message}")
    return best


def bgnbd_p_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    repeat = x > 0
    x1 = np.where(repeat, x, 1.0)
    log_ratio = np.log(a) - np.log(b + x1 - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    with np.errstate(over="ignore"):
        odds = np.where(repeat, np.exp(log_ratio), 0.0)
    return 1.0 / (1.0 + odds)


def bgnbd_expected_purchases(
    params: BgNbdParams, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Expected purchases in the next `t` weeks given each customer's history (FHL 2005, eq. 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    if t <= 0:
        return np.zeros_like(x)
    (ux, utx, uT), _ = _compress(x, t_x, T)
    hyp = hyp2f1(r + ux, b + ux, a + b + ux - 1, t / (alpha + uT + t))
    first = (a + b + ux - 1) / (a - 1)
    second = 1 - hyp * ((alpha + uT) / (alpha + uT + t)) ** (r + ux)
    expected = first * second * bgnbd_p_alive(params, ux, utx, uT)
    expected = np.where(np.isfinite(expected), np.maximum(expected, 0.0), 0.0)
    # Map the unique rows back to customers.
    keys = np.column_stack([ux, utx, uT])
    rows = np.column_stack([x, np.asarray(t_x, dtype=float), np.asarray(T, dtype=float)])
    order = np.lexsort(keys.T[::-1])
    sorted_keys = keys[order]
    index = _row_search(sorted_keys, rows)
    return expected[order][index]


def _row_search(sorted_keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Index into lexicographically sorted unique `sorted_keys` of each row of `rows` (all present)."""
    view_dtype = np.dtype([(f"c{i}", float) for i in range(sorted_keys.shape[1])])
    keys_view = np.ascontiguousarray(sorted_keys).view(view_dtype).ravel()
    rows_view = np.ascontiguousarray(rows).view(view_dtype).ravel()
    return np.searchsorted(keys_view, rows_view)


# --- Gamma-Gamma --------------------------------------------------------------


def gamma_gamma_log_likelihood_terms(
    p: float, q: float, v: float, x: np.ndarray, m: np.ndarray
) -> np.ndarray:
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


def gamma_gamma_fit(x: np.ndarray, m: np.ndarray) -> GammaGammaParams:
    """Fit on customers with repeat purchases (x > 0) and their average repeat value m > 0."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    if keep.sum() < 2:
        raise ClvFitError("Too few repeat buyers with a positive order value to estimate order values.")
    (ux, um), weight = _compress(x[keep], m[keep])
    total = weight.sum()

    def objective(log_params: np.ndarray) -> float:
        p, q, v = np.exp(log_params)
        value = -(weight * gamma_gamma_log_likelihood_terms(p, q, v, ux, um)).sum() / total
        return float(value) if np.isfinite(value) else 1e10

    result = _minimize(objective, np.zeros(3))
    p, q, v = np.exp(result.x)
    if q <= 1:
        raise ClvFitError(
            f"The Gamma-Gamma fit gave q={q:.2f} <= 1: order values are too spread to have a finite mean."
        )
    return GammaGammaParams(float(p), float(q), float(v), float(-result.fun * total))


def gamma_gamma_expected_value(params: GammaGammaParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Expected average order value; customers without repeat purchases get the population mean."""
    p, q, v = params.p, params.q, params.v
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.asarray(m, dtype=float), 0.0)
    return p * (v + x * m) / (p * x + q - 1)


# --- CLV ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClvResult:
    p_alive: np.ndarray
    expected_purchases: np.ndarray
    expected_order_value: np.ndarray
    predicted_clv: np.ndarray
    cluster: np.ndarray
    fit: dict


def clv_predict(
    *,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    m: np.ndarray,
    settings: dict | None = None,
) -> ClvResult:
    """Fit both models on one shop's buyers and predict per buyer. Raises ClvFitError with the reason."""
    conf = {**DEFAULT_CLV_SETTINGS, **(settings or {})}
    x = np.asarray(x, dtype=float)
    buyers = len(x)
    repeat_buyers = int((x > 0).sum())
    if buyers < conf["min_buyers"]:
        raise ClvFitError(f"Only {buyers} customers have purchased; CLV needs at least {conf['min_buyers']}.")
    if repeat_buyers < conf["min_repeat_buyers"]:
        raise ClvFitError(
            f"Only {repeat_buyers} customers have bought more than once; CLV needs at least "
            f"{conf['min_repeat_buyers']} repeat buyers."
        )
    bgnbd = bgnbd_fit(x, t_x, T)
    gamma_gamma = gamma_gamma_fit(x, m)

    horizon_weeks = conf["horizon_days"] / 7.0
    p_alive = bgnbd_p_alive(bgnbd, x, t_x, T)
    expected = bgnbd_expected_purchases(bgnbd, horizon_weeks, x, t_x, T)
    value = gamma_gamma_expected_value(gamma_gamma, x, m)

    # Discounted monthly cash flows: purchases expected in month i times the expected order value.
    months = max(1, int(round(conf["horizon_days"] / 30.4375)))
    monthly_rate = (1 + conf["annual_discount_rate"]) ** (1 / 12) - 1
    clv = np.zeros_like(x)
    previous = np.zeros_like(x)
    for month in range(1, months + 1):
        weeks = min(month * 30.4375, conf["horizon_days"]) / 7.0
        cumulative = expected if month == months else bgnbd_expected_purchases(bgnbd, weeks, x, t_x, T)
        clv += (cumulative - previous) * value / (1 + monthly_rate) ** month
        previous = cumulative

    cluster = value_clusters(
        p_alive=p_alive,
        predicted_clv=clv,
        expected_purchases=expected,
        inactive_p_alive=conf["inactive_p_alive"],
        inactive_expected_purchases=conf["inactive_expected_purchases"],
        high_quantile=conf["high_quantile"],
    )
    fit = {
        "bgnbd": asdict(bgnbd),
        "gamma_gamma": asdict(gamma_gamma),
        "buyers": buyers,
        "repeat_buyers": repeat_buyers,
        "frequency_value_correlation": _correlation(x, m),
        "settings": conf,
    }
    return ClvResult(p_alive, expected, value, clv, cluster, fit)


def value_clusters(
    *,
    p_alive: np.ndarray,
    predicted_clv: np.ndarray,
    expected_purchases: np.ndarray,
    inactive_p_alive: float,
    high_quantile: float,
    inactive_expected_purchases: float = 0.0,
) -> np.ndarray:
    """Inactive: P(alive) below the threshold, or fewer expected purchases over the horizon than
    `inactive_expected_purchases`. High: CLV at or above the `high_quantile` of the other buyers.
    Low: CLV below the shop's average AND expected purchases below the shop's average. Medium: the rest."""
    inactive = (p_alive < inactive_p_alive) | (expected_purchases < inactive_expected_purchases)
    alive_clv = predicted_clv[~inactive]
    high_cut = np.quantile(alive_clv, high_quantile) if len(alive_clv) else np.inf
    low = (predicted_clv < predicted_clv.mean()) & (expected_purchases < expected_purchases.mean())
    high = predicted_clv >= high_cut
    return np.select([inactive, high, low], ["Inactive", "High", "Low"], default="Medium").astype(object)


def _correlation(x: np.ndarray, m: np.ndarray) -> float | None:
    keep = x > 0
    if keep.sum() < 3 or np.std(x[keep]) == 0 or np.std(m[keep]) == 0:
        return None
    return float(np.corrcoef(x[keep], m[keep])[0, 1])
