"""Probabilities that stray outside [0, 1] by round-off are probabilities; anything further
outside is still an error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import balanceflow as bf
from balanceflow._validation import PROBA_ROUND_OFF, check_probabilities
from balanceflow.ensemble import combine_proba
from balanceflow.exceptions import DataError
from balanceflow.thresholds import TunedThreshold


def _nine_ninths() -> float:
    """1/9 added nine times: 1.0000000000000002 in float64 (a bag of 3 draws x 3 members
    averaging models that all say 1)."""
    total = 0.0
    for _ in range(9):
        total += 1.0 / 9
    return total


def test_an_averaged_probability_can_exceed_one_by_round_off():
    assert _nine_ninths() > 1.0  # the premise of this module


def test_evaluate_and_tuning_take_round_off_as_the_probability_it_is():
    """Check that an averaged 1.0000000000000002 gives the report and the threshold of
    1.0 (the crash after two minutes of `fit --strategy best`)."""
    y = np.array([0, 0, 0, 1, 1, 0, 1, 0])
    p = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 0.4, 0.8, 0.0])
    over = p.copy()
    over[4], over[7] = _nine_ninths(), -1e-17
    assert bf.evaluate(y, over).to_dict() == bf.evaluate(y, p).to_dict()
    tuned = TunedThreshold(objective="g_mean").fit(y, over)
    assert (
        tuned.best_threshold_
        == TunedThreshold(objective="g_mean").fit(y, p).best_threshold_
    )


@pytest.mark.parametrize("value", [1.01, -0.02, 3.0, np.inf, np.nan])
def test_values_beyond_round_off_are_still_errors(value):
    with pytest.raises(DataError, match="proba"):
        bf.evaluate([0, 1, 0], [0.2, value, 0.1])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(-PROBA_ROUND_OFF, 1 + PROBA_ROUND_OFF, allow_nan=False),
        min_size=1,
        max_size=30,
    )
)
def test_checked_probabilities_lie_in_the_unit_interval(values):
    """Check that anything within round-off of [0, 1] comes back inside it, moved by at
    most the round-off."""
    arr = np.asarray(values)
    checked = check_probabilities(arr, name="p")
    assert checked.min() >= 0.0 and checked.max() <= 1.0
    assert np.abs(checked - arr).max() <= PROBA_ROUND_OFF


def test_votes_never_leave_the_unit_interval():
    """Check soft and weighted votes of members that all say 1 (float32 outputs)."""
    stack = np.ones((9, 4, 2), dtype=np.float32) / np.float32(1.0)
    stack[:, :, 0] = 0.0
    for method, weights in (("soft", None), ("weighted", np.full(9, 1 / 9))):
        combined = combine_proba(stack, method, weights)
        assert combined.max() <= 1.0 and combined.min() >= 0.0
        np.testing.assert_allclose(combined[:, 1], 1.0)
