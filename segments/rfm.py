"""RFM scores, the RFM segment map and lifecycle stages, vectorised over numpy arrays.

Pure functions (no database): `segments.services.scoring` feeds them arrays fetched in bulk.

R and M (``quintile_scores``): a score is computed from the customer's mid-rank percentile
``p = (count of customers with a strictly worse value + half the customers with the same value) / n``
and ``score = 1 + floor(5 p)``. Customers with equal values always get equal scores (never the arbitrary
splits of ``rank(method="first")``), and a score does not depend on the order of the rows. The price is
that quintiles are not exactly 20 % each: a value shared by many customers keeps them together.

F (``frequency_scores``): in real shops 40-80 % of buyers ordered once, so the mid-rank rule would put all
of them in one block at F = 2 or 3 and leave F = 1 (and with it "Lost", "Promising", "New Customers")
empty. Frequency therefore has its own rule:

1. The lowest frequency value (normally: one order) always scores F = 1, however many buyers share it.
2. The other buyers (the repeat buyers) get F = 2..5 by the same mid-rank rule over four bins:
   ``F = 2 + floor(4 p)``, ``p`` the mid-rank percentile among repeat buyers only. Ties stay together.
3. If that leaves one of F = 2..5 empty although the repeat buyers have at least four distinct values,
   the fewest buyers possible are moved (whole tie groups, one score step each) so that every score is
   used and scores still rise with frequency.

Worked examples. Orders ``[1]*8 + [2, 3]`` score ``[1]*8 + [3, 5]``: the two repeat buyers have mid-rank
percentiles 0.25 and 0.75 among repeat buyers (only two distinct repeat values, so F = 2 and 4 stay empty).
Orders ``[1]*60 + [2]*25 + [3]*8 + [4]*4 + [5]*3``: one-order buyers F = 1; among the 40 repeat buyers
2 orders has p = 0.3125 -> F 3, 3 orders p = 0.725 -> 4, 4 orders p = 0.875 -> 5, 5 orders p = 0.9625 -> 5.
F = 2 would be empty with four distinct repeat values, so step 3 moves the 25 two-order buyers to F = 2,
the 8 three-order buyers to F = 3 and the 4 four-order buyers to F = 4 (the only rising assignment that
uses every score): final F = 1, 2, 3, 4, 5.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.core.exceptions import ImproperlyConfigured

# First match wins. Each rule gives allowed R, F and M scores as "1-5" ranges or digit lists ("12", "5").
# R and F decide (the common 5x5 RF grid); "Lost" takes the very bottom corner first.
DEFAULT_SEGMENT_MAP: list[dict[str, str]] = [
    {"name": "Lost", "r": "1", "f": "1", "m": "1-5"},
    {"name": "Hibernating", "r": "1-2", "f": "1-2", "m": "1-5"},
    {"name": "At Risk", "r": "1-2", "f": "3-4", "m": "1-5"},
    {"name": "Can't Lose Them", "r": "1-2", "f": "5", "m": "1-5"},
    {"name": "About To Sleep", "r": "3", "f": "1-2", "m": "1-5"},
    {"name": "Need Attention", "r": "3", "f": "3", "m": "1-5"},
    {"name": "Loyal Customers", "r": "3-4", "f": "4-5", "m": "1-5"},
    {"name": "Promising", "r": "4", "f": "1", "m": "1-5"},
    {"name": "New Customers", "r": "5", "f": "1", "m": "1-5"},
    {"name": "Potential Loyalists", "r": "4-5", "f": "2-3", "m": "1-5"},
    {"name": "Champions", "r": "5", "f": "4-5", "m": "1-5"},
]

DEFAULT_LIFECYCLE_DAYS = {"new": 30, "active": 90, "defecting": 365}


def _score_set(spec: str, rule_name: str, letter: str) -> set[int]:
    spec = str(spec).replace(" ", "")
    if re.fullmatch(r"[1-5]-[1-5]", spec):
        low, high = int(spec[0]), int(spec[2])
        return set(range(low, high + 1))
    if re.fullmatch(r"[1-5]+", spec):
        return {int(c) for c in spec}
    raise ImproperlyConfigured(
        f"RFM segment {rule_name!r}: {letter}={spec!r} is not a score range like '1-2' or list like '45'."
    )


@dataclass(frozen=True)
class SegmentMap:
    names: tuple[str, ...]
    table: np.ndarray  # shape (5, 5, 5): index into names for [r-1, f-1, m-1]

    def lookup(self, r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Segment names (object array) for score arrays (1..5)."""
        index = self.table[r - 1, f - 1, m - 1]
        return np.asarray(self.names, dtype=object)[index]

    def name_for(self, r: int, f: int, m: int) -> str:
        return self.names[self.table[r - 1, f - 1, m - 1]]


def segment_map_build(rules: Sequence[dict[str, str]]) -> SegmentMap:
    """A 5x5x5 lookup table from first-match rules; every combination must be covered."""
    names: list[str] = []
    table = np.full((5, 5, 5), -1, dtype=np.int16)
    for rule in rules:
        name = rule.get("name", "")
        if not name or len(name) > 32:
            raise ImproperlyConfigured(f"RFM segment rule {rule!r} needs a name of at most 32 characters.")
        if name not in names:
            names.append(name)
        index = names.index(name)
        rs, fs, ms = (_score_set(rule.get(k, "1-5"), name, k.upper()) for k in ("r", "f", "m"))
        for r in rs:
            for f in fs:
                for m in ms:
                    if table[r - 1, f - 1, m - 1] < 0:
                        table[r - 1, f - 1, m - 1] = index
    holes = np.argwhere(table < 0)
    if len(holes):
        combos = ", ".join("".join(str(v + 1) for v in h) for h in holes[:10])
        raise ImproperlyConfigured(
            f"The RFM segment map leaves score combinations without a segment: {combos}"
        )
    return SegmentMap(names=tuple(names), table=table)


def segment_map_current() -> SegmentMap:
    from django.conf import settings

    return segment_map_build(getattr(settings, "WINBACK_RFM_SEGMENTS", DEFAULT_SEGMENT_MAP))


def lifecycle_days_current() -> dict[str, int]:
    from django.conf import settings

    days = {**DEFAULT_LIFECYCLE_DAYS, **getattr(settings, "WINBACK_LIFECYCLE_DAYS", {})}
    if not (days["new"] > 0 and 0 < days["active"] < days["defecting"]):
        raise ImproperlyConfigured(
            f"WINBACK_LIFECYCLE_DAYS must satisfy 0 < new, 0 < active < defecting: {days}"
        )
    return days


def quintile_scores(values: np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..5 from mid-rank percentiles; equal values always get equal scores.

    Whole numbers within a range of a few times n (recency days, totals in cents) are counted with one
    `bincount` (no sort); other values are sorted once. Both give the same mid-ranks."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int16)
    keys = values if higher_is_better else -values
    below, equal = _ranks_counted(keys) if _countable(keys) else _ranks_sorted(keys)
    percentile = (below + equal / 2.0) / n
    return np.clip(1 + np.floor(5 * percentile), 1, 5).astype(np.int16)


def _countable(keys: np.ndarray) -> bool:
    if not np.isfinite(keys).all():
        return False
    low, high = keys.min(), keys.max()
    return high - low <= 8 * len(keys) + 1024 and bool((keys == np.floor(keys)).all())


def _ranks_counted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per value: how many keys are strictly lower, how many equal (whole-number keys, small range)."""
    offsets = (keys - keys.min()).astype(np.int64)
    counts = np.bincount(offsets)
    lower = np.cumsum(counts) - counts
    return lower[offsets], counts[offsets]


def _ranks_sorted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same by one argsort: tie groups are runs of equal sorted keys."""
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts_group = np.ones(n, dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    sizes = np.diff(np.append(starts, n))
    group = np.cumsum(starts_group) - 1
    below = np.empty(n, dtype=np.int64)
    equal = np.empty(n, dtype=np.int64)
    below[order] = starts[group]
    equal[order] = sizes[group]
    return below, equal


def frequency_scores(values: np.ndarray) -> np.ndarray:
    """F scores 1..5: the lowest value scores 1, the rest 2..5 by mid-rank (see the module docstring)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int16)
    distinct, group, counts = np.unique(values, return_inverse=True, return_counts=True)
    group = group.ravel()
    group_scores = np.ones(len(distinct), dtype=np.int16)
    if len(distinct) > 1:
        repeat_counts = counts[1:].astype(float)
        below = np.concatenate([[0.0], np.cumsum(repeat_counts)[:-1]])
        percentile = (below + repeat_counts / 2.0) / repeat_counts.sum()
        scores = np.clip(2 + np.floor(4 * percentile), 2, 5).astype(np.int64)
        if len(repeat_counts) >= 4 and len(set(scores.tolist())) < 4:
            scores = _fill_every_score(scores, repeat_counts)
        group_scores[1:] = scores
    return group_scores[group]


def _fill_every_score(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The rising sequence from 2 to 5 (steps of 0 or 1, so every score is used) closest to `scores`,
    moving as few customers as possible (cost: customers x score steps). Dynamic programming over the
    distinct values (a few hundred at most)."""
    k = len(scores)
    levels = np.arange(2, 6)
    cost = np.full((k, 4), np.inf)
    step = np.zeros((k, 4), dtype=np.int8)
    cost[0, 0] = weights[0] * abs(2 - scores[0])
    for i in range(1, k):
        moved = weights[i] * np.abs(levels - scores[i])
        for level in range(4):
            stay = cost[i - 1, level]
            rise = cost[i - 1, level - 1] if level else np.inf
            step[i, level] = 1 if rise < stay else 0
            cost[i, level] = min(stay, rise) + moved[level]
    result = np.zeros(k, dtype=np.int64)
    level = 3
    for i in range(k - 1, -1, -1):
        result[i] = level + 2
        level -= step[i, level]
    return result


def lifecycle_stages(
    *,
    recency_days: np.ndarray,
    first_purchase_days: np.ndarray,
    frequency: np.ndarray,
    days: dict[str, int] | None = None,
) -> np.ndarray:
    """Stage per contact. Days arrays may hold NaN for contacts that never purchased.

    never: no purchase; new: first purchase at most `new` days ago; active: last purchase at most
    `active` days ago; defecting: `active` < days since last purchase <= `defecting`; lost: older.
    """
    days = days or DEFAULT_LIFECYCLE_DAYS
    recency = np.asarray(recency_days, dtype=float)
    first = np.asarray(first_purchase_days, dtype=float)
    buyer = np.asarray(frequency) > 0
    return np.select(
        [
            ~buyer,
            first <= days["new"],
            recency <= days["active"],
            recency <= days["defecting"],
        ],
        ["never", "new", "active", "defecting"],
        default="lost",
    ).astype(object)
