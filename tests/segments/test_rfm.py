import itertools

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from segments import rfm


def test_equal_values_always_get_equal_scores():
    values = np.array([5, 5, 5, 5, 1, 2, 3, 4, 5, 5])
    scores = rfm.quintile_scores(values)
    assert len(set(scores[values == 5])) == 1
    # Order of rows does not matter.
    shuffled = np.random.default_rng(1).permutation(len(values))
    assert (rfm.quintile_scores(values[shuffled]) == scores[shuffled]).all()


def test_distinct_values_split_into_equal_quintiles():
    scores = rfm.quintile_scores(np.arange(100))
    assert np.bincount(scores)[1:].tolist() == [20, 20, 20, 20, 20]
    assert scores[0] == 1 and scores[-1] == 5


def test_lower_recency_is_better():
    scores = rfm.quintile_scores(np.array([1, 400, 30, 200, 90]), higher_is_better=False)
    assert scores.tolist() == [5, 1, 4, 2, 3]


def test_issue_reproduction_one_order_buyers_score_f1():
    # Before the fix: [3]*8 + [5, 5] (F = 1 never occurred, two-order buyers were "Champions").
    assert rfm.frequency_scores(np.array([1] * 8 + [2, 3])).tolist() == [1] * 8 + [3, 5]


def test_worked_example_of_the_docstring_fills_every_score():
    frequency = np.array([1] * 60 + [2] * 25 + [3] * 8 + [4] * 4 + [5] * 3)
    scores = rfm.frequency_scores(frequency)
    assert [int(scores[frequency == v][0]) for v in (1, 2, 3, 4, 5)] == [1, 2, 3, 4, 5]


def _skewed_shop(one_order_share: float, buyers: int = 5000) -> np.ndarray:
    rng = np.random.default_rng(7)
    once = int(round(one_order_share * buyers))
    repeat = 1 + rng.geometric(0.35, buyers - once)  # 2, 3, 4, ... orders, a long tail
    return rng.permutation(np.concatenate([np.ones(once, dtype=int), repeat]))


@pytest.mark.parametrize("share", [0.4, 0.6, 0.8])
def test_skewed_shops_keep_f1_for_one_order_buyers_and_use_every_score(share):
    frequency = _skewed_shop(share)
    scores = rfm.frequency_scores(frequency)
    assert set(scores[frequency == 1].tolist()) == {1}
    assert set(scores[frequency > 1].tolist()) == {2, 3, 4, 5}
    for value in np.unique(frequency):  # ties stay together
        assert len(set(scores[frequency == value].tolist())) == 1
    order = np.argsort(frequency, kind="stable")
    assert (np.diff(scores[order]) >= 0).all()  # more orders never score lower
    # Repeat buyers spread over four scores: none of them holds more than half of the repeat buyers.
    assert np.bincount(scores, minlength=6)[2:].max() <= 0.5 * (frequency > 1).sum()


def test_all_one_order_buyers_score_f1():
    assert set(rfm.frequency_scores(_skewed_shop(1.0)).tolist()) == {1}


@pytest.mark.parametrize("share", [0.4, 0.6, 0.8, 1.0])
def test_skewed_shops_reach_lost_new_and_promising(share):
    """With F = 1 populated, the segments built on it exist wherever recency allows."""
    frequency = _skewed_shop(share)
    rng = np.random.default_rng(3)
    recency = rng.integers(0, 700, len(frequency))
    r = rfm.quintile_scores(recency, higher_is_better=False)
    f = rfm.frequency_scores(frequency)
    m = rfm.quintile_scores(rng.gamma(2, 30, len(frequency)))
    names = set(rfm.segment_map_build(rfm.DEFAULT_SEGMENT_MAP).lookup(r, f, m).tolist())
    assert {"Lost", "New Customers", "Promising", "Hibernating", "About To Sleep"} <= names
    if share < 1:
        assert names == set(rfm.segment_map_build(rfm.DEFAULT_SEGMENT_MAP).names)


def test_five_distinct_values_use_every_score_whatever_their_shares():
    frequency = np.array([1] * 900 + [2] * 90 + [3] * 5 + [4] * 3 + [9] * 2)
    assert sorted(set(rfm.frequency_scores(frequency).tolist())) == [1, 2, 3, 4, 5]


def test_all_equal_values_score_in_the_middle():
    assert set(rfm.quintile_scores(np.full(7, 42.0))) == {3}


def test_all_125_combinations_have_a_named_segment():
    segment_map = rfm.segment_map_build(rfm.DEFAULT_SEGMENT_MAP)
    expected_names = {
        "Champions",
        "Loyal Customers",
        "Potential Loyalists",
        "New Customers",
        "Promising",
        "Need Attention",
        "About To Sleep",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
    }
    seen = set()
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        name = segment_map.name_for(r, f, m)
        assert name in expected_names, (r, f, m, name)
        seen.add(name)
    assert seen == expected_names
    assert segment_map.name_for(5, 5, 5) == "Champions"
    assert segment_map.name_for(1, 1, 1) == "Lost"
    assert segment_map.name_for(2, 1, 3) == "Hibernating"
    assert segment_map.name_for(1, 5, 1) == "Can't Lose Them"
    r, f, m = (np.array(v) for v in zip(*itertools.product(range(1, 6), repeat=3), strict=True))
    assert (segment_map.lookup(r, f, m) != "").all()


def test_a_map_with_a_hole_is_refused_naming_the_combinations():
    with pytest.raises(ImproperlyConfigured, match="155"):
        rfm.segment_map_build(
            [{"name": "Most", "r": "1-5", "f": "1-4"}, {"name": "Rest", "r": "2-5", "f": "5"}]
        )


def test_bad_score_spec_is_refused():
    with pytest.raises(ImproperlyConfigured, match="score range"):
        rfm.segment_map_build([{"name": "All", "r": "0-9"}])


def test_configured_map_is_used(settings):
    settings.WINBACK_RFM_SEGMENTS = [{"name": "Big spenders", "m": "5"}, {"name": "Everyone else"}]
    segment_map = rfm.segment_map_current()
    assert segment_map.name_for(1, 1, 5) == "Big spenders"
    assert segment_map.name_for(5, 5, 4) == "Everyone else"


def test_lifecycle_stages_with_default_thresholds():
    stages = rfm.lifecycle_stages(
        recency_days=np.array([np.nan, 10, 60, 91, 365, 366]),
        first_purchase_days=np.array([np.nan, 10, 400, 400, 400, 800]),
        frequency=np.array([0, 1, 3, 2, 1, 5]),
    )
    assert stages.tolist() == ["never", "new", "active", "defecting", "defecting", "lost"]


def test_lifecycle_thresholds_are_configurable(settings):
    settings.WINBACK_LIFECYCLE_DAYS = {"active": 30}
    stages = rfm.lifecycle_stages(
        recency_days=np.array([45.0]),
        first_purchase_days=np.array([400.0]),
        frequency=np.array([2]),
        days=rfm.lifecycle_days_current(),
    )
    assert stages.tolist() == ["defecting"]
    settings.WINBACK_LIFECYCLE_DAYS = {"active": 400}
    with pytest.raises(ImproperlyConfigured):
        rfm.lifecycle_days_current()
