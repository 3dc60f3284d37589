"""Input checks of the decision rules (numpy only).

Scores here are probabilities: a model's output after its sigmoid or softmax. The checks
fail with a message that names the argument, shows what was received and says what to do.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from balanceflow._validation import (
    check_probabilities,
    check_rows_sum_to_one,
    check_targets,
    short_repr,
)
from balanceflow.exceptions import DataError, InvalidParameterError

__all__ = [
    "PROBA_FLOOR",
    "check_binary_scores",
    "check_class_targets",
    "check_proba_matrix",
    "check_unit_interval",
    "log_proba",
]

#: Probabilities are floored here before their log is taken (``log 0`` would be ``-inf``).
#: The Keras layers of :mod:`balanceflow.layers` use the same floor, so that a model with a
#: baked-in decision predicts exactly what the numpy rule predicts.
PROBA_FLOOR = 1e-12


def _as_float_array(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"`{name}` must hold probabilities (numbers in [0, 1]). "
            f"Received: {name}={short_repr(values)}."
        ) from None
    return arr


def check_binary_scores(y_score: Any, *, name: str = "y_score") -> np.ndarray:
    """The probability of the class with index 1, as a 1-D float64 array.

    Accepts shape (n,), (n, 1) (one sigmoid unit) or (n, 2) (a softmax over two classes,
    whose second column is used).
    """
    arr = _as_float_array(y_score, name)
    if arr.ndim == 2 and arr.shape[1] in (1, 2):
        arr = arr[:, -1]
    if arr.ndim != 1:
        raise DataError(
            f"`{name}` must be the probability of the positive class (class index 1), of "
            f"shape (n_samples,), (n_samples, 1) or (n_samples, 2). Received: {name} with "
            f"shape {np.shape(y_score)}. For more classes use TunedClassOffsets or "
            "TunedLogitAdjustment."
        )
    if arr.shape[0] == 0:
        raise DataError(f"`{name}` is empty. Pass at least one row.")
    return check_probabilities(arr, name=name)


def check_proba_matrix(
    proba: Any, *, name: str = "y_score", from_logits: bool = False
) -> np.ndarray:
    """Class scores of shape (n, n_classes) as float64; a 1-D input is binary ``P(class 1)``.

    With ``from_logits=False`` the rows must be probabilities that sum to 1 (within 1e-3).
    """
    arr = _as_float_array(proba, name)
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
        column = arr.reshape(-1)
        if from_logits:
            arr = np.stack([np.zeros_like(column), column], axis=1)
        else:
            arr = np.stack([1.0 - column, column], axis=1)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DataError(
            f"`{name}` must have shape (n_samples, n_classes) with at least one row. "
            f"Received: {name} with shape {np.shape(proba)}."
        )
    if from_logits:
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.argwhere(bad)[0][0])
            raise DataError(
                f"`{name}` contains {int(bad.sum())} NaN or inf logit(s) (first at row "
                f"{first}). Logits must be finite."
            )
        return arr
    arr = check_probabilities(arr, name=name)
    return check_rows_sum_to_one(
        arr, name=name, hint="Pass softmax outputs, or logits with from_logits=True."
    )


def log_proba(proba: np.ndarray) -> np.ndarray:
    """``log(max(proba, PROBA_FLOOR))``: finite log-probabilities to add offsets to."""
    return np.log(np.maximum(proba, PROBA_FLOOR))


def check_class_targets(
    y_true: Any,
    n_rows: int,
    *,
    n_classes: int | None = None,
    name: str = "y_true",
    score_name: str = "y_score",
) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels for fitting a decision rule: ``(codes, classes)``.

    Every class must be present (a rule cannot be tuned on a validation set that lacks a
    class). ``classes`` are the sorted labels; when ``n_classes`` is given (the number of
    score columns) the labels must be that many.
    """
    labels = check_targets(y_true, name=name, min_classes=1)
    if labels.shape[0] != n_rows:
        raise DataError(
            f"`{name}` and `{score_name}` must have the same number of rows. Received: "
            f"{name} with {labels.shape[0]} rows and {score_name} with {n_rows} rows."
        )
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"`{name}` holds a single class ({short_repr(classes.tolist())}): a decision rule "
            "cannot be tuned on it. Tune on a validation set that contains every class "
            "(for example a stratified split)."
        )
    if n_classes is not None and len(classes) != n_classes:
        raise DataError(
            f"`{score_name}` has {n_classes} columns but `{name}` holds {len(classes)} "
            f"classes ({short_repr(classes.tolist())}). Every class must occur in the data "
            "the rule is tuned on, one column per class, in sorted label order."
        )
    return codes.astype(np.int64), classes


def check_unit_interval(
    value: Any, name: str, *, open_low: bool = False, open_high: bool = False
) -> float:
    """A real number in [0, 1] (ends excluded where asked)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = np.isfinite(value) and (value > 0.0 if open_low else value >= 0.0)
        ok = ok and (value < 1.0 if open_high else value <= 1.0)
    if not ok:
        low = "(0" if open_low else "[0"
        high = "1)" if open_high else "1]"
        raise InvalidParameterError(
            f"`{name}` must be a number in {low}, {high}. Received: {name}={short_repr(value)}."
        )
    return float(value)
