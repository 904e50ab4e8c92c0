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


def test_skewed_frequency_keeps_one_order_buyers_together_at_the_bottom():
    # 40 % of buyers ordered once, then a long tail.
    frequency = np.array([1] * 40 + [2] * 20 + [3] * 15 + [4] * 10 + [6] * 10 + [12] * 5)
    scores = rfm.quintile_scores(frequency)
    assert set(scores[frequency == 1]) == {2}  # mid-rank 0.2 -> one block, not split into F1/F2
    assert scores[frequency == 12].tolist() == [5] * 5
    assert (np.diff(scores[np.argsort(frequency, kind="stable")]) >= 0).all()  # monotone


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
