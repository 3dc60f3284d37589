"""The leaderboard's statistics against hand computations and scipy."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from balanceflow.model_selection._stats import (
    friedman,
    holm,
    mean_interval,
    wilcoxon_vs_best,
)

# 8 blocks (folds) x 3 strategies, no ties within a block.
TABLE = pd.DataFrame(
    {
        "a": [0.91, 0.85, 0.88, 0.90, 0.87, 0.93, 0.89, 0.86],
        "b": [0.89, 0.86, 0.84, 0.88, 0.85, 0.90, 0.87, 0.83],
        "c": [0.80, 0.82, 0.81, 0.79, 0.84, 0.83, 0.78, 0.80],
    }
)


def test_friedman_matches_the_textbook_formula_and_scipy():
    """chi2_F = 12 / (N k (k + 1)) * sum_j R_j^2 - 3 N (k + 1), R_j the rank sums."""
    n, k = TABLE.shape
    ranks = TABLE.rank(axis=1).sum(axis=0).to_numpy()
    by_hand = 12 / (n * k * (k + 1)) * np.sum(ranks**2) - 3 * n * (k + 1)
    statistic, p_value = friedman(TABLE)
    assert statistic == pytest.approx(by_hand)
    assert p_value == pytest.approx(stats.chi2.sf(by_hand, k - 1))
    reference = stats.friedmanchisquare(TABLE.a, TABLE.b, TABLE.c)
    assert (statistic, p_value) == pytest.approx(
        (reference.statistic, reference.pvalue)
    )


def test_holm_by_hand():
    """Sorted p 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)."""
    adjusted = holm({"x": 0.04, "y": 0.01, "z": 0.03})
    assert adjusted == pytest.approx({"y": 0.03, "z": 0.06, "x": 0.06})
    assert holm({"x": 0.6, "y": 0.5}) == pytest.approx({"y": 1.0, "x": 1.0})


def test_wilcoxon_against_best_is_scipy_then_holm():
    raw = {name: stats.wilcoxon(TABLE["a"], TABLE[name]).pvalue for name in ("b", "c")}
    assert wilcoxon_vs_best(TABLE, "a") == pytest.approx(holm(raw))


def test_mean_interval_is_the_student_t_interval():
    values = TABLE["a"].to_numpy()
    expected = stats.t.interval(
        0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values)
    )
    assert mean_interval(values) == pytest.approx(expected)


def test_degenerate_tables():
    """Identical strategies are not 'different'; too few blocks give NaN, not a crash."""
    same = pd.DataFrame(
        {"a": [0.5, 0.6, 0.7], "b": [0.5, 0.6, 0.7], "c": [0.5, 0.6, 0.7]}
    )
    assert friedman(same) == (0.0, 1.0)
    assert wilcoxon_vs_best(same, "a") == {"b": 1.0, "c": 1.0}
    assert np.isnan(friedman(TABLE.iloc[:1])[0])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12),
    st.sampled_from([(0.0, 1.0), (-1.0, 1.0)]),
)
def test_a_bounded_interval_never_leaves_the_metrics_range(values, bounds):
    """Check that the interval of a metric bounded in [lo, hi] stays inside it, in order."""
    lo, hi = bounds
    scaled = lo + (hi - lo) * np.asarray(values)
    low, high = mean_interval(scaled, bounds=bounds)
    assert lo <= low <= high <= hi


def test_a_bounded_interval_is_close_to_student_t_away_from_the_bounds():
    """Check the logit-scale interval against the textbook one for values near 0.5, and
    that it is asymmetric near 1 (room below, none above)."""
    values = np.array([0.48, 0.52, 0.50, 0.47, 0.53, 0.51, 0.49, 0.50])
    t_low, t_high = mean_interval(values)
    low, high = mean_interval(values, bounds=(0.0, 1.0))
    assert low == pytest.approx(t_low, abs=0.1 * (t_high - t_low))
    assert high == pytest.approx(t_high, abs=0.1 * (t_high - t_low))
    few = np.array([1.0, 0.2])  # two folds: the Student-t interval spans [-4.1, 5.3]
    t_few = mean_interval(few)
    assert t_few[0] < 0 and t_few[1] > 1
    low, high = mean_interval(few, bounds=(0.0, 1.0))
    assert 0.0 <= low < 0.6 < high <= 1.0
    near_one = np.array([0.99, 0.98, 1.0, 0.97, 0.99])
    low, high = mean_interval(near_one, bounds=(0.0, 1.0))
    assert high <= 1.0 and (high - near_one.mean()) < (near_one.mean() - low)
