"""Statistics for journey results: plain functions on counts and sums, no ORM.

Methods (stated on the report page too):
- a proportion's 95 % interval: Wilson score interval;
- difference of two proportions (treated - holdout): Newcombe's hybrid score interval (method 10),
  built from the two Wilson intervals;
- revenue per contact: Welch's t interval on the difference of means (unequal variances), computed from
  n, sum and sum of squares so it runs on SQL aggregates;
- two variants: two-proportion z test (pooled); more than two: Pearson chi-square on the 2 x k table;
- probability that each variant is best: Monte Carlo over Beta(1 + conversions, 1 + non-conversions)
  posteriors with a fixed seed (the same data always gives the same numbers);
- "about N more needed": sample size per group for a two-sided two-proportion z test (alpha 0.05, power
  0.8) to detect the observed difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy

Z95 = 1.959963984540054  # two-sided 95 %


def _z(confidence: float) -> float:
    return Z95 if confidence == 0.95 else float(_scipy.norm.ppf(1 - (1 - confidence) / 2))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion. (0, 1) when n is 0."""
    if n <= 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Difference:
    estimate: float
    low: float
    high: float


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> Difference | None:
    """Interval for p1 - p2 (Newcombe 1998, method 10). None when a group is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Difference(d, low, high)


def mean_and_variance(n: int, total: float, sum_squares: float) -> tuple[float, float]:
    """Mean and sample variance (n - 1) from n, sum and sum of squares."""
    if n <= 0:
        return (0.0, 0.0)
    mean = total / n
    if n < 2:
        return (mean, 0.0)
    return (mean, max(0.0, (sum_squares - n * mean * mean) / (n - 1)))


def welch_interval(
    n1: int, total1: float, squares1: float, n2: int, total2: float, squares2: float, confidence: float = 0.95
) -> Difference | None:
    """Welch t interval for mean1 - mean2 from (n, sum, sum of squares) of each group."""
    if n1 < 2 or n2 < 2:
        return None
    m1, v1 = mean_and_variance(n1, total1, squares1)
    m2, v2 = mean_and_variance(n2, total2, squares2)
    a, b = v1 / n1, v2 / n2
    d = m1 - m2
    se = math.sqrt(a + b)
    if se == 0:
        return Difference(d, d, d)
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    t = float(_scipy.t.ppf(1 - (1 - confidence) / 2, df))
    return Difference(d, d - t * se, d + t * se)


@dataclass(frozen=True)
class TestResult:
    name: str
    statistic: float
    p_value: float
    df: int | None = None


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> TestResult | None:
    """Pooled two-proportion z test, two-sided. None when it cannot be computed."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return TestResult("two-proportion z test", 0.0, 1.0)
    z = (x1 / n1 - x2 / n2) / se
    return TestResult("two-proportion z test", z, float(2 * _scipy.norm.sf(abs(z))))


def chi_square_test(groups: list[tuple[int, int]]) -> TestResult | None:
    """Pearson chi-square (no continuity correction) on converted / not converted x groups."""
    groups = [(x, n) for x, n in groups if n > 0]
    if len(groups) < 2:
        return None
    total_x = sum(x for x, _ in groups)
    total_n = sum(n for _, n in groups)
    rate = total_x / total_n
    if rate in (0, 1):
        return TestResult("chi-square test", 0.0, 1.0, len(groups) - 1)
    statistic = 0.0
    for x, n in groups:
        for observed, expected in ((x, n * rate), (n - x, n * (1 - rate))):
            statistic += (observed - expected) ** 2 / expected
    df = len(groups) - 1
    return TestResult("chi-square test", statistic, float(_scipy.chi2.sf(statistic, df)), df)


def variants_test(groups: list[tuple[int, int]]) -> TestResult | None:
    """Two groups: the z test; more: chi-square."""
    if len(groups) == 2:
        (x1, n1), (x2, n2) = groups
        return two_proportion_z_test(x1, n1, x2, n2)
    return chi_square_test(groups)


def probability_best(groups: list[tuple[int, int]], draws: int = 20_000, seed: int = 20240601) -> list[float]:
    """P(each group has the highest conversion rate) under Beta(1 + x, 1 + n - x) posteriors."""
    if not groups:
        return []
    rng = np.random.default_rng(seed)
    samples = np.column_stack([rng.beta(1 + x, 1 + max(n - x, 0), size=draws) for x, n in groups])
    wins = np.bincount(samples.argmax(axis=1), minlength=len(groups))
    return [float(w) / draws for w in wins]


def sample_size_per_group(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Contacts per group a two-sided two-proportion z test needs to detect p1 vs p2 (None: no difference)."""
    if p1 == p2 or not (0 <= p1 <= 1 and 0 <= p2 <= 1):
        return None
    z_a = float(_scipy.norm.ppf(1 - alpha / 2))
    z_b = float(_scipy.norm.ppf(power))
    p_bar = (p1 + p2) / 2
    numerator = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(numerator**2 / (p1 - p2) ** 2)


def more_needed(x1: int, n1: int, x2: int, n2: int) -> int | None:
    """How many more contacts (both groups together, in the current split) until the observed
    difference would be detectable; None when there is no difference to detect yet."""
    if n1 <= 0 or n2 <= 0:
        return None
    per_group = sample_size_per_group(x1 / n1, x2 / n2)
    if per_group is None:
        return None
    # Keep the current ratio between groups: the smaller group must reach per_group.
    ratio = n1 / n2
    need1, need2 = (per_group * ratio, per_group) if ratio >= 1 else (per_group, per_group / ratio)
    return max(0, math.ceil(need1 - n1) + math.ceil(need2 - n2))
