"""Objectives of the decision rules, evaluated for many candidate rules at once.

:mod:`balanceflow.metrics` computes a metric from one confusion matrix. Tuning a threshold
scores every distinct score as a threshold, and tuning class offsets scores every breakpoint
of an offset, so the formulas here take arrays of confusion counts (one entry per candidate)
and return one value per candidate. The tests check them, candidate by candidate, against
:mod:`balanceflow.metrics` and scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = [
    "BINARY_OBJECTIVES",
    "CONSTRAINED_OBJECTIVES",
    "MULTICLASS_OBJECTIVES",
    "binary_objective",
    "check_cost_matrix",
    "check_objective",
    "multiclass_objective",
]

#: Objectives of :class:`~balanceflow.thresholds.TunedThreshold`, all higher-is-better.
BINARY_OBJECTIVES: tuple[str, ...] = (
    "f1",
    "fbeta",
    "g_mean",
    "balanced_accuracy",
    "youden",
    "mcc",
    "cost",
    "max_recall_at_precision",
    "max_precision_at_recall",
)

#: The objectives that need a constraint (``min_precision`` or ``min_recall``).
CONSTRAINED_OBJECTIVES: dict[str, str] = {
    "max_recall_at_precision": "min_precision",
    "max_precision_at_recall": "min_recall",
}

#: Objectives of the multi-class rules (per-class offsets, logit adjustment).
MULTICLASS_OBJECTIVES: tuple[str, ...] = (
    "balanced_accuracy",
    "g_mean",
    "macro_f1",
    "mcc",
)


def check_objective(objective: Any, options: tuple[str, ...]) -> str:
    if isinstance(objective, str) and objective in options:
        return objective
    hint = did_you_mean(objective, options)
    raise InvalidParameterError(
        f"Unknown `objective`. Received: objective={short_repr(objective)}. Use one of "
        f"{list(options)}.{hint}"
    )


def check_cost_matrix(cost_matrix: Any) -> np.ndarray:
    """A finite 2 x 2 matrix: ``cost_matrix[i][j]`` is the cost of predicting j for class i."""
    try:
        arr = np.asarray(cost_matrix, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.shape != (2, 2) or not np.all(np.isfinite(arr)):
        raise InvalidParameterError(
            "`cost_matrix` must be a finite 2 x 2 array: cost_matrix[i][j] is the cost of "
            "predicting class j for a row of class i (rows: true class, columns: predicted "
            "class, as in a confusion matrix), e.g. [[0, 1], [10, 0]] when a missed positive "
            f"costs ten false alarms. Received: cost_matrix={short_repr(cost_matrix)}."
        )
    return arr


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def binary_objective(
    objective: str,
    tp: np.ndarray,
    fp: np.ndarray,
    n_pos: int,
    n_neg: int,
    *,
    beta: float = 1.0,
    cost_matrix: np.ndarray | None = None,
) -> np.ndarray:
    """The objective for each candidate, given its true- and false-positive counts.

    The constrained objectives return the quantity they maximise (recall, or precision);
    the caller masks the candidates that break the constraint.
    """
    tp = np.asarray(tp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    fn = n_pos - tp
    tn = n_neg - fp
    recall = tp / n_pos
    specificity = tn / n_neg
    if objective == "f1":
        return _ratio(2 * tp, 2 * tp + fp + fn)
    if objective == "fbeta":
        b2 = beta * beta
        return _ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)
    if objective == "g_mean":
        return np.sqrt(recall * specificity)
    if objective == "balanced_accuracy":
        return (recall + specificity) / 2
    if objective == "youden":
        return recall + specificity - 1
    if objective == "mcc":
        denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return _ratio(tp * tn - fp * fn, denominator)
    if objective == "cost":
        c = cost_matrix
        total = c[0, 0] * tn + c[0, 1] * fp + c[1, 0] * fn + c[1, 1] * tp
        return -total / (n_pos + n_neg)
    if objective == "max_recall_at_precision":
        return recall
    if objective == "max_precision_at_recall":
        return _ratio(tp, tp + fp)
    raise AssertionError(objective)  # pragma: no cover - checked by check_objective


def multiclass_objective(
    objective: str, diag: np.ndarray, predicted: np.ndarray, support: np.ndarray
) -> np.ndarray:
    """The objective for each candidate from its confusion-matrix summary.

    Parameters
    ----------
    diag, predicted : ndarray of shape (n_candidates, n_classes)
        Correct predictions and predicted-row counts per class (diagonal and column sums of
        each candidate's confusion matrix).
    support : ndarray of shape (n_classes,)
        Rows per class (row sums), the same for every candidate; all > 0.
    """
    diag = np.asarray(diag, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    support = np.asarray(support, dtype=np.float64)
    recall = diag / support
    if objective == "balanced_accuracy":
        return recall.mean(axis=1)
    if objective == "g_mean":
        with np.errstate(divide="ignore"):
            out = np.exp(np.log(recall).mean(axis=1))
        return np.where(np.any(recall == 0, axis=1), 0.0, out)
    if objective == "macro_f1":
        return _ratio(2 * diag, support + predicted).mean(axis=1)
    if objective == "mcc":
        n = support.sum()
        correct = diag.sum(axis=1)
        cov_tp = correct * n - predicted @ support
        cov_pp = n * n - np.sum(predicted * predicted, axis=1)
        cov_tt = n * n - support @ support
        return _ratio(cov_tp, np.sqrt(cov_pp * cov_tt))
    raise AssertionError(objective)  # pragma: no cover - checked by check_objective
