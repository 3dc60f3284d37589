"""The combination rules, as properties over random member probabilities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balanceflow.ensemble import combine_proba, fit_vote_weights, hard_vote
from balanceflow.ensemble._combine import log_loss
from balanceflow.exceptions import InvalidParameterError


@st.composite
def member_stacks(draw):
    m = draw(st.integers(1, 5))
    n = draw(st.integers(1, 40))
    k = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(m, n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    y = rng.integers(0, k, size=n)
    return proba, y


@settings(max_examples=50, deadline=None)
@given(data=member_stacks())
def test_soft_vote_is_the_mean(data):
    proba, _ = data
    np.testing.assert_allclose(
        combine_proba(proba, "soft"), proba.mean(axis=0), rtol=1e-12
    )


@settings(max_examples=50, deadline=None)
@given(data=member_stacks())
def test_hard_vote_is_the_majority_label(data):
    """Check each row's winner against a plain count of member labels."""
    proba, _ = data
    labels = proba.argmax(axis=2)  # (m, n)
    combined = combine_proba(proba, "hard")
    shares = hard_vote(proba)
    for i in range(proba.shape[1]):
        counts = np.bincount(labels[:, i], minlength=proba.shape[2])
        np.testing.assert_allclose(shares[i], counts / proba.shape[0])
        winners = np.flatnonzero(counts == counts.max())
        expected = winners[np.argmax(proba.mean(axis=0)[i, winners])]
        assert combined[i].argmax() == expected


@settings(max_examples=50, deadline=None)
@given(data=member_stacks())
def test_vote_weights_are_a_distribution_that_beats_every_member(data):
    """Check non-negative weights summing to 1 whose log loss is <= the best member's."""
    proba, y = data
    weights = fit_vote_weights(proba, y)
    assert weights.shape == (proba.shape[0],)
    assert np.all(weights >= 0) and weights.sum() == pytest.approx(1.0)
    mixed = combine_proba(proba, "weighted", weights)
    best_member = min(log_loss(y, p) for p in proba)
    assert log_loss(y, mixed) <= best_member + 1e-12


def test_vote_weights_find_the_informative_member():
    """Check that a member equal to the truth gets (almost) all the weight."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=200)
    truth = np.eye(2)[y] * 0.98 + 0.01
    noise = np.full((200, 2), 0.5)
    weights = fit_vote_weights(np.stack([noise, truth, noise]), y)
    assert weights[1] > 0.99


def test_weighted_needs_valid_weights():
    proba = np.full((2, 3, 2), 0.5)
    with pytest.raises(InvalidParameterError, match="summing to 1"):
        combine_proba(proba, "weighted", [0.7, 0.7])
    with pytest.raises(InvalidParameterError, match="combine='median'"):
        combine_proba(proba, "median")
