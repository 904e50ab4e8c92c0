"""Customer lifetime value: BG/NBD and Gamma-Gamma, fitted by maximum likelihood with numpy/scipy.

Pure functions over numpy arrays (no database), vectorised; customers with the same (x, t_x, T) are
collapsed into one weighted row before fitting, so a fit on 1M customers costs a few thousand rows per
likelihood evaluation.

Fits never stall. Customers are put on a day grid (t_x and T in whole days since the first purchase, shown
in weeks), which collapses a million buyers to a few thousand distinct rows however fine the timestamps.
The optimiser is L-BFGS-B with analytic gradients on bounded log-parameters and an iteration cap
(``MAX_ITERATIONS``); there is no slow derivative-free fallback. When the data show no drop-out, the BG/NBD
likelihood is degenerate (b, or a and b, run off towards infinity while the drop-out probability a/(a+b)
goes to 0). That case is detected (a or b at its bound with a/(a+b) below ``NO_DROPOUT_PROBABILITY``, or a
fit that does not converge) and the documented limit model is used instead: the NBD without drop-out
(Ehrenberg 1959; the BG/NBD with a -> 0), where every customer is alive (P(alive) = 1) and buys at rate
(r + x) / (alpha + T) per week. The run page names the model that was used and why.

Notation (Fader, Hardie & Lee 2005): x repeat purchases, t_x time of the last purchase and T age, both
measured in weeks from the first purchase. Gamma-Gamma: m average value of the repeat purchases (zbar).

- BG/NBD: "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model", Marketing
  Science 24(2), 2005. CDNOW estimates r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4.
- Gamma-Gamma: "RFM and CLV: Using Iso-value Curves for Customer Base Analysis", JMR 42(4), 2005, and
  Fader & Hardie's note "The Gamma-Gamma Model of Monetary Value" (2013): p=6.25, q=3.74, gamma=15.44.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

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


MAX_ITERATIONS = 500
NO_DROPOUT_PROBABILITY = 1e-3  # a/(a+b) below this at the bound: "no drop-out"
# Bounds on the log-parameters: wide enough for any real shop (CDNOW: r=0.24, alpha=4.4, a=0.79, b=2.4),
# finite so a degenerate likelihood stops at the wall instead of running off.
LOG_BOUNDS_BGNBD = [(-9.0, 6.0), (-9.0, 12.0), (-9.0, 9.0), (-9.0, 9.0)]
LOG_BOUNDS_NBD = [(-9.0, 6.0), (-9.0, 12.0)]
LOG_BOUNDS_GAMMA_GAMMA = [(-9.0, 9.0), (-9.0, 9.0), (-9.0, 12.0)]


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD parameters, or the NBD limit (model="nbd": no drop-out, a and b are None)."""

    r: float
    alpha: float
    a: float | None
    b: float | None
    log_likelihood: float
    model: str = "bgnbd"
    fallback_reason: str = ""
    iterations: int = 0
    grid_rows: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def day_grid_weeks(
    first_day: np.ndarray, last_day: np.ndarray, as_of_day: int
) -> tuple[np.ndarray, np.ndarray]:
    """t_x and T in weeks from whole calendar days (day numbers): the grid the models are fitted on."""
    first_day = np.asarray(first_day, dtype=np.int64)
    t_x = np.maximum(np.asarray(last_day, dtype=np.int64) - first_day, 0) / 7.0
    T = np.maximum(as_of_day - first_day, 0) / 7.0
    return t_x, T


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float
    log_likelihood: float


def _compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the given columns, how many customers share each, and each customer's row.

    Each column is coded by its distinct values and the codes combined into one integer key, so this is a
    1-D sort (fast at a million rows) instead of numpy's row-wise unique."""
    codes, values = [], []
    for column in columns:
        distinct, code = np.unique(np.asarray(column, dtype=float), return_inverse=True)
        values.append(distinct)
        codes.append(code.ravel().astype(np.int64))
    sizes = [len(v) for v in values]
    if np.prod([float(s) for s in sizes]) >= 2**62:  # keys would overflow: fall back to row-wise unique
        stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
        unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
        return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float), inverse.ravel()
    key = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    for code, size in zip(codes, sizes, strict=True):
        key = key * size + code
    unique_keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    unique_columns = []
    for code_values, size in zip(reversed(values), reversed(sizes), strict=True):
        unique_columns.append(code_values[unique_keys % size])
        unique_keys = unique_keys // size
    return unique_columns[::-1], counts.astype(float), inverse.ravel()


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

    started = time.monotonic()
    result = _minimize(objective, np.zeros(4), LOG_BOUNDS_BGNBD)
    r, alpha, a, b = np.exp(result.x)
    log_likelihood = -result.fun * total
    at_bound = [
        name
        for name, value, (low, high) in zip(("a", "b"), result.x[2:], LOG_BOUNDS_BGNBD[2:], strict=True)
        if value >= high - 0.01
    ]
    dropout = a / (a + b)
    reason = ""
    if not result.success or not np.all(np.isfinite([r, alpha, a, b, log_likelihood])):
        reason = f"the BG/NBD fit did not converge ({result.message})"
    elif dropout < NO_DROPOUT_PROBABILITY:
        reason = f"the data show no drop-out after purchases (a/(a+b) = {dropout:.1e}" + (
            f", {' and '.join(at_bound)} at the bound)" if at_bound else ")"
        )
    if reason:
        nbd = nbd_fit(x, T)
        return BgNbdParams(
            nbd.r,
            nbd.alpha,
            None,
            None,
            nbd.log_likelihood,
            model="nbd",
            fallback_reason=reason,
            iterations=int(result.nit) + nbd.iterations,
            grid_rows=len(ux),
            seconds=round(time.monotonic() - started, 3),
        )
    notes = []
    if at_bound:
        notes.append(
            f"{' and '.join(at_bound)} reached the bound: the drop-out probability is about the same for "
            f"every customer ({dropout:.1%} after each purchase)."
        )
    return BgNbdParams(
        float(r),
        float(alpha),
        float(a),
        float(b),
        float(log_likelihood),
        iterations=int(result.nit),
        grid_rows=len(ux),
        seconds=round(time.monotonic() - started, 3),
        notes=notes,
    )


def nbd_fit(x: np.ndarray, T: np.ndarray) -> BgNbdParams:
    """The NBD without drop-out: x ~ Poisson(lambda T), lambda ~ Gamma(r, alpha). Bounded L-BFGS-B with the
    analytic gradient, on distinct (x, T) rows."""
    (ux, uT), weight, _ = _compress(x, T)
    total = weight.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha = np.exp(log_params)
        log_aT = np.log(alpha + uT)
        terms = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) - (r + ux) * log_aT
        value = -(weight * terms).sum() / total
        if not np.isfinite(value):
            return 1e10, np.zeros(2)
        d_r = (weight * (digamma(r + ux) - digamma(r) + np.log(alpha) - log_aT)).sum()
        d_alpha = (weight * (r / alpha - (r + ux) / (alpha + uT))).sum()
        return float(value), -np.array([r * d_r, alpha * d_alpha]) / total

    result = _minimize(objective, np.zeros(2), LOG_BOUNDS_NBD)
    r, alpha = np.exp(result.x)
    if not np.isfinite(result.fun) or result.fun >= 1e10:
        raise ClvFitError(f"The NBD fit did not converge: {result.message}")
    log_likelihood = float(-result.fun * total)
    iterations = int(result.nit)
    return BgNbdParams(float(r), float(alpha), None, None, log_likelihood, model="nbd", iterations=iterations)


def _minimize(objective, start: np.ndarray, bounds: list[tuple[float, float]]):
    """L-BFGS-B with the analytic gradient on bounded log-parameters, at most MAX_ITERATIONS iterations.
    If it stops short of convergence (a rough line search), one restart from where it stopped."""
    options = {"ftol": 1e-13, "gtol": 1e-9, "maxiter": MAX_ITERATIONS}
    best = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
    if not best.success and np.isfinite(best.fun) and best.fun < 1e10:
        again = minimize(objective, best.x, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        again.nit += best.nit
        if again.fun <= best.fun:
            best = again
    if not np.isfinite(best.fun) or best.fun >= 1e10:
        raise ClvFitError(f"The fit did not converge: {best.message}")
    if not best.success and _stationary(objective, best.x, bounds):
        # ABNORMAL (the line search found no lower value at machine precision) at a stationary point: the
        # fit is done, the strict ftol just cannot be met.
        best.success = True
    return best


def _stationary(objective, x: np.ndarray, bounds: list[tuple[float, float]]) -> bool:
    """The projected gradient (outward components at a bound dropped) is ~0 at x."""
    gradient = np.array(objective(x)[1], dtype=float)
    low, high = np.array(bounds).T
    gradient[(x <= low + 1e-9) & (gradient > 0)] = 0.0
    gradient[(x >= high - 1e-9) & (gradient < 0)] = 0.0
    return bool(np.all(np.isfinite(gradient)) and np.max(np.abs(gradient)) < 1e-5)


def bgnbd_p_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if params.model == "nbd":
        return np.ones_like(x)  # no drop-out: everyone is alive
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
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
    return _expected_if_alive(params, t, x, T) * bgnbd_p_alive(params, x, t_x, T)


def _expected_if_alive(params: BgNbdParams, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Expected purchases in the next t weeks of a customer who is alive (FHL 2005, eq. 10 without its
    P(alive) factor). Depends on (x, T) only, so callers can evaluate the costly hyp2f1 once per distinct
    (x, T) pair rather than per (x, t_x, T) row."""
    if params.model == "nbd":
        return (params.r + x) / (params.alpha + T) * t
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - hyp * ((alpha + T) / (alpha + T + t)) ** (r + x)
    expected = first * second
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

    result = _minimize(objective, np.zeros(3), LOG_BOUNDS_GAMMA_GAMMA)
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
    value = gamma_gamma_expected_value(gamma_gamma, x, m)

    # Discounted monthly cash flows: purchases expected in month i times the expected order value.
    months = max(1, int(round(conf["horizon_days"] / 30.4375)))
    monthly_rate = (1 + conf["annual_discount_rate"]) ** (1 / 12) - 1
    # The costly part (hyp2f1) depends on (x, T) only: evaluated per distinct pair, times P(alive) per row.
    (px, pT), _, pair = _compress(ux, uT)
    discounted = np.zeros(len(px))
    previous = np.zeros(len(px))
    for month in range(1, months + 1):
        weeks = (conf["horizon_days"] if month == months else month * 30.4375) / 7.0
        cumulative = _expected_if_alive(bgnbd, weeks, px, pT)
        discounted += (cumulative - previous) / (1 + monthly_rate) ** month
        previous = cumulative
    alive = bgnbd_p_alive(bgnbd, ux, utx, uT)
    expected = (previous[pair] * alive)[inverse]
    clv = (discounted[pair] * alive)[inverse] * value

    p_alive = alive[inverse]
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
        "model": bgnbd.model,
        "fallback_reason": bgnbd.fallback_reason,
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
