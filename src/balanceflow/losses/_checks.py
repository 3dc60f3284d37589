"""Checks of loss hyperparameters (numpy only; run once, in the constructors).

The messages follow the package pattern: name the parameter, say what is allowed, show the
value received.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = [
    "check_alpha",
    "check_class_counts",
    "check_class_weight",
    "check_real",
    "class_balanced_weights",
]


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    high_open: bool = False,
) -> float:
    """A finite real number within the given bounds, as a Python float."""
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high:g}")
        bounds = f" {' and '.join(parts)}" if parts else ""
        raise InvalidParameterError(
            f"`{name}` must be a finite number{bounds}. "
            f"Received: {name}={short_repr(value)}."
        )
    return float(value)


def _as_vector(value: Any, name: str) -> np.ndarray:
    """A dict ``{class_index: value}`` (keys 0..K-1) or a sequence, as a float vector."""
    if isinstance(value, dict):
        keys = sorted(value)
        if keys != list(range(len(keys))):
            raise InvalidParameterError(
                f"`{name}` as a dict must have the class indices 0..K-1 as keys. "
                f"Received: {name}={short_repr(value)}."
            )
        value = [value[key] for key in keys]
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"`{name}` must be a sequence of numbers, one per class. "
            f"Received: {name}={short_repr(value)}."
        ) from None
    if vector.ndim != 1 or vector.size < 2:
        raise InvalidParameterError(
            f"`{name}` must hold one number per class (at least 2). "
            f"Received: {name}={short_repr(value)}."
        )
    if not np.all(np.isfinite(vector)):
        raise InvalidParameterError(
            f"Every value of `{name}` must be finite. "
            f"Received: {name}={short_repr(vector.tolist())}."
        )
    return vector


def check_class_counts(class_counts: Any, name: str = "class_counts") -> np.ndarray:
    """Training rows per class, in class-index order; every count must be > 0."""
    if class_counts is None:
        raise InvalidParameterError(
            f"`{name}` is required: the number of training rows of each class, in "
            "class-index order, for example balanceflow.class_counts(y_train)."
        )
    counts = _as_vector(class_counts, name)
    bad = np.flatnonzero(counts <= 0)
    if bad.size:
        raise InvalidParameterError(
            f"Every value of `{name}` must be > 0: class(es) {bad.tolist()} have "
            f"{counts[bad].tolist()} rows. A class without training rows cannot be "
            "weighted or given a margin; drop it from the outputs or add examples. "
            f"Received: {name}={short_repr(counts.tolist())}."
        )
    return counts


def check_class_weight(class_weight: Any, name: str = "class_weight") -> np.ndarray:
    """One weight >= 0 per class: a ``{class_index: weight}`` dict or a sequence."""
    weights = _as_vector(class_weight, name)
    if np.any(weights < 0):
        raise InvalidParameterError(
            f"Every value of `{name}` must be >= 0. "
            f"Received: {name}={short_repr(weights.tolist())}."
        )
    return weights


def class_balanced_weights(class_counts: Any, *, beta: float = 0.999) -> np.ndarray:
    """Class-balanced weights from the effective number of samples (Cui et al., 2019).

    ``w_c = (1 - beta) / (1 - beta ** n_c)``, scaled so that the weights sum to the number
    of classes. ``beta=0`` gives equal weights and ``beta -> 1`` approaches inverse class
    frequency. For the same classes this equals
    ``balanceflow.class_weight(y, method="effective_number", beta=beta)``.

    Parameters
    ----------
    class_counts : sequence of float
        Training rows per class, in class-index order, each > 0.
    beta : float, default=0.999
        In [0, 1).

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> class_balanced_weights([900, 100], beta=0.99).round(4).tolist()
    [0.776, 1.224]
    >>> class_balanced_weights([900, 100], beta=0.999).round(4).tolist()
    [0.2764, 1.7236]
    """
    counts = check_class_counts(class_counts)
    beta = check_real(beta, "beta", low=0.0, high=1.0, high_open=True)
    raw = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return raw * counts.size / raw.sum()


def check_alpha(
    alpha: Any, class_counts: np.ndarray | None
) -> np.ndarray | float | None:
    """Validate focal ``alpha``; return None, a float (binary) or a per-class vector."""
    if alpha is None:
        return None
    if isinstance(alpha, str):
        if alpha != "balanced":
            raise InvalidParameterError(
                "`alpha` must be None, a float in [0, 1], a list of per-class weights or "
                f"'balanced'. Received: alpha={short_repr(alpha)}."
            )
        if class_counts is None:
            raise InvalidParameterError(
                "alpha='balanced' needs `class_counts` (the training rows per class, for "
                "example balanceflow.class_counts(y_train)). Received: class_counts=None."
            )
        # scikit-learn's "balanced" weights: n_samples / (n_classes * n_c).
        return class_counts.sum() / (class_counts.size * class_counts)
    if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool):
        return check_real(alpha, "alpha", low=0.0, high=1.0)
    vector = check_class_weight(alpha, name="alpha")
    if class_counts is not None and vector.size != class_counts.size:
        raise InvalidParameterError(
            f"`alpha` has {vector.size} values but `class_counts` has {class_counts.size}. "
            f"Give one alpha per class. Received: alpha={short_repr(vector.tolist())}."
        )
    return vector
