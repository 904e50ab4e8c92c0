"""reports.stats against published worked examples and scipy."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as scipy_stats

from reports import stats


def test_wilson_interval_matches_newcombe_table():
    # Newcombe (1998) table I: 81/263 -> 0.2553 to 0.3662.
    low, high = stats.wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4)
    assert high == pytest.approx(0.3662, abs=1e-4)


def test_wilson_interval_of_zero_successes_starts_at_zero():
    low, high = stats.wilson_interval(0, 10)
    assert low == 0
    assert high == pytest.approx(0.2775, abs=1e-4)  # Newcombe table I, 0/10


def test_newcombe_difference_matches_the_paper():
    # Newcombe (1998) method 10 worked example: 56/70 vs 48/80 -> 0.2000 (0.0524 to 0.3339).
    d = stats.newcombe_difference(56, 70, 48, 80)
    assert d.estimate == pytest.approx(0.2)
    assert d.low == pytest.approx(0.0524, abs=1e-4)
    assert d.high == pytest.approx(0.3339, abs=1e-4)


def test_newcombe_difference_of_empty_group_is_none():
    assert stats.newcombe_difference(1, 10, 0, 0) is None


def test_welch_interval_matches_scipy():
    a = np.array([0, 0, 0, 40, 0, 55.5, 0, 0, 120, 0, 0, 30])
    b = np.array([0, 0, 25, 0, 0, 0, 0, 60])
    d = stats.welch_interval(len(a), a.sum(), (a * a).sum(), len(b), b.sum(), (b * b).sum())
    expected = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert d.estimate == pytest.approx(a.mean() - b.mean())
    assert d.low == pytest.approx(expected.low)
    assert d.high == pytest.approx(expected.high)


def test_two_proportion_z_test_by_hand():
    # 30/200 vs 18/200: pooled 48/400 = 0.12, se = sqrt(.12*.88*(2/200)) = 0.032496
    result = stats.two_proportion_z_test(30, 200, 18, 200)
    se = math.sqrt(0.12 * 0.88 * 0.01)
    assert result.statistic == pytest.approx(0.06 / se)
    assert result.p_value == pytest.approx(2 * scipy_stats.norm.sf(0.06 / se))
    assert result.p_value == pytest.approx(0.0648, abs=1e-4)


def test_chi_square_matches_scipy_and_equals_z_squared_for_two_groups():
    groups = [(30, 200), (18, 200), (25, 150)]
    result = stats.chi_square_test(groups)
    table = [[x, n - x] for x, n in groups]
    chi2, p, df, _ = scipy_stats.chi2_contingency(table, correction=False)
    assert result.statistic == pytest.approx(chi2)
    assert result.p_value == pytest.approx(p)
    assert result.df == df == 2
    z = stats.two_proportion_z_test(30, 200, 18, 200)
    assert stats.chi_square_test(groups[:2]).statistic == pytest.approx(z.statistic**2)
    assert stats.variants_test(groups[:2]).name == "two-proportion z test"
    assert stats.variants_test(groups).name == "chi-square test"


def test_probability_best_matches_exact_integration_and_is_repeatable():
    (x1, n1), (x2, n2) = (30, 200), (18, 200)
    a = scipy_stats.beta(1 + x1, 1 + n1 - x1)
    b = scipy_stats.beta(1 + x2, 1 + n2 - x2)
    # P(A > B) = integral of f_A(p) * F_B(p) dp
    exact, _ = integrate.quad(lambda p: a.pdf(p) * b.cdf(p), 0, 1)
    result = stats.probability_best([(x1, n1), (x2, n2)])
    assert result[0] == pytest.approx(exact, abs=0.01)
    assert sum(result) == pytest.approx(1)
    assert stats.probability_best([(x1, n1), (x2, n2)]) == result


def test_sample_size_per_group_matches_the_textbook():
    # 10 % vs 15 %, alpha 0.05 two-sided, power 0.8: 686 per group (Fleiss, without continuity correction).
    assert stats.sample_size_per_group(0.10, 0.15) == 686
    assert stats.sample_size_per_group(0.1, 0.1) is None


def test_more_needed_keeps_the_split():
    # 10 % vs 15 % observed on 100 + 100: 686 each needed -> 586 + 586 more.
    assert stats.more_needed(15, 100, 10, 100) == 2 * 586
    # Treated 900, holdout 100 (90/10): holdout must reach 686, treated 9 x that.
    assert stats.more_needed(135, 900, 10, 100) == (686 * 9 - 900) + (686 - 100)
