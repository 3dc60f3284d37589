"""Brier score, log loss and expected calibration error against scikit-learn and loops
written out here."""

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

from balanceflow.exceptions import InvalidParameterError
from balanceflow.metrics import brier_score, expected_calibration_error, log_loss


def _binary(seed=0, n=500):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    y = (rng.random(n) < p**2).astype(int)  # over-confident: truth rarer than p says
    return y, p


def _multi(seed=0, n=400, k=4):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(k), size=n)
    y = rng.integers(0, k, size=n)
    return y, proba


def _ece_loop(hit, score, n_bins=10):
    """ECE with explicit bin masks (the last bin closed at 1)."""
    total = 0.0
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        inside = (score >= low) & (
            (score < high) if b < n_bins - 1 else (score <= high)
        )
        if inside.any():
            total += inside.sum() * abs(hit[inside].mean() - score[inside].mean())
    return total / len(score)


def test_binary_scores_match_scikit_learn_and_the_loop():
    y, p = _binary()
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p))
    assert log_loss(y, p) == pytest.approx(sk_log_loss(y, p))
    assert expected_calibration_error(y, p) == pytest.approx(_ece_loop(y, p))
    two_columns = np.column_stack([1 - p, p])
    assert brier_score(y, two_columns) == pytest.approx(brier_score(y, p))
    assert expected_calibration_error(y, two_columns) == pytest.approx(
        expected_calibration_error(y, p)
    )


def test_multi_class_scores_match_the_reference_forms():
    y, proba = _multi()
    one_hot = np.eye(proba.shape[1])[y]
    assert brier_score(y, proba) == pytest.approx(
        np.mean(((proba - one_hot) ** 2).sum(axis=1))
    )
    assert log_loss(y, proba) == pytest.approx(sk_log_loss(y, proba, labels=range(4)))
    top = proba.argmax(axis=1)
    assert expected_calibration_error(y, proba) == pytest.approx(
        _ece_loop((top == y).astype(float), proba.max(axis=1))
    )


def test_known_values_and_properties():
    y = np.array([0] * 90 + [1] * 10)
    # Always 0.5 on a 10% class: one bin, |0.1 - 0.5|; Brier 0.25; log loss log 2.
    half = np.full(100, 0.5)
    assert expected_calibration_error(y, half) == pytest.approx(0.4)
    assert brier_score(y, half) == pytest.approx(0.25)
    assert log_loss(y, half) == pytest.approx(np.log(2))
    # The prior itself is calibrated in its bin.
    assert expected_calibration_error(y, np.full(100, 0.1)) == pytest.approx(0.0)
    # Draws from the predicted probabilities: calibrated up to noise.
    rng = np.random.default_rng(3)
    p = rng.random(200_000)
    assert expected_calibration_error((rng.random(p.size) < p).astype(int), p) < 0.01
    # A confident mistake is finite.
    assert np.isfinite(log_loss(np.array([1]), np.array([0.0])))


@pytest.mark.parametrize(
    ("y_true", "y_prob", "message"),
    [
        ([0, 1], [0.1, 0.2, 0.3], "same rows"),
        ([0, 3], [[0.5, 0.5], [0.4, 0.6]], "class indices 0..1"),
        ([0, 1], [0.2, 1.4], r"in \[0, 1\]"),
        ([0, 1], [0.2, np.nan], "finite"),
        ([0.5, 1.0], [0.2, 0.4], "class indices"),
    ],
)
def test_bad_input_is_refused(y_true, y_prob, message):
    for function in (brier_score, log_loss, expected_calibration_error):
        with pytest.raises(InvalidParameterError, match=message):
            function(np.asarray(y_true), np.asarray(y_prob))
