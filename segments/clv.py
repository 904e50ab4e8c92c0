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
from scipy.special import digamma, gammaln, hyp2f1

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


def _compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the given columns, how many customers share each, and each customer's row."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float), inverse.ravel()


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
    """Maximum likelihood on log-parameters.

    Terms that depend only on x (gammaln, log(b + x - 1)) are computed once per distinct x and gathered;
    per customer only two logs and a logaddexp remain, so one evaluation over 1M customers is a few ms.
    """
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        raise ClvFitError("No customers to fit.")
    if not np.any(x > 0):
        raise ClvFitError("No customer has bought more than once, so repeat buying cannot be estimated.")
    (ux, utx, uT), weight, _ = _compress(x, t_x, T)
    x_values, x_index = np.unique(ux, return_inverse=True)
    repeat = ux > 0
    x_rep, tx_rep, T_rep, w_rep, i_rep = ux[repeat], utx[repeat], uT[repeat], weight[repeat], x_index[repeat]
    T_once, w_once, i_once = uT[~repeat], weight[~repeat], x_index[~repeat]
    total = weight.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean negative log-likelihood and its gradient with respect to the log-parameters."""
        r, alpha, a, b = np.exp(log_params)
        per_x = (
            gammaln(r + x_values)
            - gammaln(r)
            + r * np.log(alpha)
            + gammaln(a + b)
            + gammaln(b + x_values)
            - gammaln(b)
            - gammaln(a + b + x_values)
        )
        log_dropout = np.log(a) - np.log(b + np.maximum(x_values, 1) - 1)
        log_once = np.log(alpha + T_once)
        once = per_x[i_once] - r * log_once
        rx = r + x_rep
        log_T, log_tx = np.log(alpha + T_rep), np.log(alpha + tx_rep)
        a3 = -rx * log_T
        a4 = log_dropout[i_rep] - rx * log_tx
        both = np.logaddexp(a3, a4)
        value = -((w_once * once).sum() + (w_rep * (per_x[i_rep] + both)).sum()) / total
        if not np.isfinite(value):
            return 1e10, np.zeros(4)
        s3, s4 = np.exp(a3 - both), np.exp(a4 - both)
        # d/d(theta) of the x-only terms, per distinct x, gathered with the customer weights.
        d_r_x = digamma(r + x_values) - digamma(r) + np.log(alpha)
        d_a_x = digamma(a + b) - digamma(a + b + x_values)
        d_b_x = d_a_x + digamma(b + x_values) - digamma(b)
        weight_x = np.bincount(x_index, weights=weight, minlength=len(x_values))
        weight_x_rep = np.bincount(i_rep, weights=w_rep * s4, minlength=len(x_values))
        d_r = (
            (weight_x * d_r_x).sum() - (w_once * log_once).sum() - (w_rep * (s3 * log_T + s4 * log_tx)).sum()
        )
        d_alpha = (
            r / alpha * weight.sum()
            - (w_once * r / (alpha + T_once)).sum()
            - (w_rep * rx * (s3 / (alpha + T_rep) + s4 / (alpha + tx_rep))).sum()
        )
        d_a = (weight_x * d_a_x).sum() + weight_x_rep.sum() / a
        d_b = (weight_x * d_b_x).sum() - (weight_x_rep / (b + np.maximum(x_values, 1) - 1)).sum()
        gradient = -np.array([r * d_r, alpha * d_alpha, a * d_a, b * d_b]) / total
        return float(value), gradient

    result = _minimize(objective, np.zeros(4))
    r, alpha, a, b = np.exp(result.x)
    log_likelihood = -result.fun * total
    if not np.all(np.isfinite([r, alpha, a, b, log_likelihood])):
        raise ClvFitError("The BG/NBD fit did not converge (non-finite parameters).")
    return BgNbdParams(float(r), float(alpha), float(a), float(b), float(log_likelihood))


def _minimize(objective, start: np.ndarray):
    """L-BFGS-B with the analytic gradient on log-parameters; Nelder-Mead takes over only if it does not
    report convergence."""
    bounds = [(-12.0, 12.0)] * len(start)
    best = minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-13, "gtol": 1e-9}
    )
    if not best.success:
        polished = minimize(
            lambda v: objective(v)[0],
            best.x,
            method="Nelder-Mead",
            options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 2000},
        )
        if polished.fun <= best.fun:
            best = polished
    if not np.isfinite(best.fun) or best.fun >= 1e10:
        raise ClvFitError(f"The fit did not converge: {best.message}")
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
    x = np.asarray(x, dtype=float)
    if t <= 0:
        return np.zeros_like(x)
    (ux, utx, uT), _, inverse = _compress(x, t_x, T)
    return _expected_unique(params, t, ux, utx, uT)[inverse]


def _expected_unique(
    params: BgNbdParams, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - hyp * ((alpha + T) / (alpha + T + t)) ** (r + x)
    expected = first * second * bgnbd_p_alive(params, x, t_x, T)
    return np.where(np.isfinite(expected), np.maximum(expected, 0.0), 0.0)


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
    (ux, um), weight, _ = _compress(x[keep], m[keep])
    x_values, x_index = np.unique(ux, return_inverse=True)
    log_m = np.log(um)
    log_x = np.log(x_values)[x_index]
    xm = ux * um
    total = weight.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = np.exp(log_params)
        px_values = p * x_values
        per_x = gammaln(px_values + q) - gammaln(px_values) - gammaln(q) + q * np.log(v)
        px = p * ux
        log_xm_v = np.log(xm + v)
        terms = per_x[x_index] + (px - 1) * log_m + px * log_x - (px + q) * log_xm_v
        value = -(weight * terms).sum() / total
        if not np.isfinite(value):
            return 1e10, np.zeros(3)
        psi_pxq = digamma(px_values + q)[x_index]
        d_p = (weight * ux * (psi_pxq - digamma(px_values)[x_index] + log_m + log_x - log_xm_v)).sum()
        d_q = (weight * (psi_pxq - digamma(q) + np.log(v) - log_xm_v)).sum()
        d_v = (weight * (q / v - (px + q) / (xm + v))).sum()
        return float(value), -np.array([p * d_p, q * d_q, v * d_v]) / total

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

    # Everything per distinct (x, t_x, T), gathered back to customers at the end.
    (ux, utx, uT), _, inverse = _compress(x, t_x, T)
    p_alive = bgnbd_p_alive(bgnbd, ux, utx, uT)[inverse]
    value = gamma_gamma_expected_value(gamma_gamma, x, m)

    # Discounted monthly cash flows: purchases expected in month i times the expected order value.
    months = max(1, int(round(conf["horizon_days"] / 30.4375)))
    monthly_rate = (1 + conf["annual_discount_rate"]) ** (1 / 12) - 1
    discounted = np.zeros(len(ux))
    previous = np.zeros(len(ux))
    for month in range(1, months + 1):
        weeks = (conf["horizon_days"] if month == months else month * 30.4375) / 7.0
        cumulative = _expected_unique(bgnbd, weeks, ux, utx, uT)
        discounted += (cumulative - previous) / (1 + monthly_rate) ** month
        previous = cumulative
    expected = previous[inverse]
    clv = discounted[inverse] * value

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
