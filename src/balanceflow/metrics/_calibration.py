"""How far predicted probabilities are from observed frequencies: Brier score, log loss
and expected calibration error.

A model that ranks well can still say 0.5 where the truth is 0.02, and resampling or class
weights move its probabilities exactly that way. These three measure it; lower is better
for all of them.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = [
    "CALIBRATION_BINS",
    "brier_score",
    "expected_calibration_error",
    "log_loss",
]

#: Equal-width bins of the expected calibration error (and of the reliability diagram).
CALIBRATION_BINS = 10

#: Probabilities are clipped to [EPS, 1 - EPS] in the log loss, so that a confident wrong
#: answer costs -log(EPS) (about 34.5) instead of infinity.
_EPS = 1e-15


def _check(y_true: Any, y_prob: Any) -> tuple[np.ndarray, np.ndarray]:
    """(class indices, (n, K) probabilities); a 1-D ``y_prob`` is P(class 1) of 0/1
    targets."""
    prob = np.asarray(y_prob, dtype=np.float64)
    if prob.ndim == 1:
        prob = np.column_stack([1.0 - prob, prob])
    truth = np.asarray(y_true)
    if prob.ndim != 2 or truth.ndim != 1 or len(truth) != len(prob) or not len(truth):
        raise InvalidParameterError(
            "`y_true` must be a non-empty 1-D array of class indices and `y_prob` the "
            "probability of class 1 (1-D) or of every class (n_samples, n_classes) for the "
            f"same rows. Received: y_true of shape {truth.shape}, y_prob of shape "
            f"{np.shape(y_prob)}."
        )
    if truth.dtype.kind not in "iub" or truth.min() < 0 or truth.max() >= prob.shape[1]:
        raise InvalidParameterError(
            f"`y_true` must hold class indices 0..{prob.shape[1] - 1} (one per column of "
            f"`y_prob`). Received values from {short_repr(truth.min())} to "
            f"{short_repr(truth.max())} (dtype {truth.dtype})."
        )
    if not np.isfinite(prob).all() or prob.min() < -1e-9 or prob.max() > 1 + 1e-9:
        raise InvalidParameterError(
            "`y_prob` must hold finite probabilities in [0, 1]. Received values from "
            f"{np.nanmin(prob):.6g} to {np.nanmax(prob):.6g}."
        )
    return truth.astype(np.int64), np.clip(prob, 0.0, 1.0)


def brier_score(y_true: Any, y_prob: Any) -> float:
    """Brier score: binary (1-D ``y_prob`` or two columns), the mean of
    ``(P(class 1) - y)^2``, as scikit-learn's ``brier_score_loss``; multi-class, the mean
    squared distance between the probability rows and the one-hot targets (Brier's
    original form, which for two classes is twice the binary one)."""
    truth, prob = _check(y_true, y_prob)
    if prob.shape[1] == 2:
        return float(np.mean((prob[:, 1] - (truth == 1)) ** 2))
    one_hot = np.eye(prob.shape[1])[truth]
    return float(np.mean(np.sum((prob - one_hot) ** 2, axis=1)))


def log_loss(y_true: Any, y_prob: Any) -> float:
    """Mean negative log-probability of the true class (natural log; probabilities
    clipped to [1e-15, 1 - 1e-15] so that one confident mistake stays finite)."""
    truth, prob = _check(y_true, y_prob)
    picked = np.clip(prob[np.arange(len(truth)), truth], _EPS, 1.0 - _EPS)
    return float(-np.mean(np.log(picked)))


def expected_calibration_error(
    y_true: Any, y_prob: Any, n_bins: int = CALIBRATION_BINS
) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins of the predicted
    probability: the mean over rows of ``|observed frequency - mean probability|`` of the
    row's bin.

    Binary (1-D ``y_prob`` or two columns): of P(class 1), the bins of a reliability
    diagram. Multi-class: of the top-label confidence (the highest probability against
    whether that class is right; Guo et al., 2017).
    """
    if (
        isinstance(n_bins, bool)
        or not isinstance(n_bins, numbers.Integral)
        or n_bins < 1
    ):
        raise InvalidParameterError(
            f"`n_bins` must be an int >= 1. Received: n_bins={short_repr(n_bins)}."
        )
    truth, prob = _check(y_true, y_prob)
    if prob.shape[1] == 2:
        score, hit = prob[:, 1], (truth == 1).astype(np.float64)
    else:
        top = prob.argmax(axis=1)
        score, hit = prob[np.arange(len(truth)), top], (top == truth).astype(np.float64)
    bins = np.minimum((score * n_bins).astype(np.int64), n_bins - 1)
    hits = np.bincount(bins, weights=hit, minlength=n_bins)
    mass = np.bincount(bins, weights=score, minlength=n_bins)
    return float(np.abs(hits - mass).sum() / len(score))
