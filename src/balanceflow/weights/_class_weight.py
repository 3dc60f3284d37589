"""Class weights and class priors in the exact form Keras takes them (numpy only)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from balanceflow._validation import encode_labels, short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = ["CLASS_WEIGHT_METHODS", "class_counts", "class_priors", "class_weight"]

CLASS_WEIGHT_METHODS = ("balanced", "inverse", "sqrt_inverse", "effective_number")


def class_counts(y: Any) -> np.ndarray:
    """Number of rows of each class, in class-index order (sorted labels).

    Examples
    --------
    >>> class_counts(["b", "a", "b", "b"]).tolist()
    [1, 3]
    """
    codes, classes = encode_labels(y, min_classes=2)
    return np.bincount(codes, minlength=len(classes))


def class_priors(y: Any) -> np.ndarray:
    """Share of each class in ``y``, in class-index order (sorted labels); sums to 1.

    Examples
    --------
    >>> class_priors([0, 0, 0, 1]).tolist()
    [0.75, 0.25]
    """
    counts = class_counts(y)
    return counts / counts.sum()


def class_weight(
    y: Any, *, method: str = "balanced", beta: float = 0.999
) -> dict[int, float]:
    """Per-class weights as the ``{class_index: weight}`` dict ``model.fit`` accepts.

    Keys are class indices ``0..K-1`` in sorted label order, which is the order Keras expects
    for integer targets. With string (or other non-integer) labels, encode ``y`` with
    :func:`balanceflow.encode_labels` before ``fit``: ``codes, classes = encode_labels(y)``;
    then ``classes[i]`` is the label whose weight is ``class_weight(y)[i]``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels (int, bool, str) or one-hot rows.
    method : {"balanced", "inverse", "sqrt_inverse", "effective_number"}, default="balanced"
        - ``"balanced"``: ``n_samples / (n_classes * n_c)``, scikit-learn's
          ``compute_class_weight("balanced")``; the weighted row count equals ``n_samples``.
        - ``"inverse"``: proportional to ``1 / n_c``.
        - ``"sqrt_inverse"``: proportional to ``1 / sqrt(n_c)``, a milder re-weighting.
        - ``"effective_number"``: proportional to ``(1 - beta) / (1 - beta ** n_c)``, the
          inverse effective number of samples of Cui et al. (2019).
        The last three are normalised as in Cui et al.: the weights sum to ``n_classes``.
    beta : float, default=0.999
        Only for ``"effective_number"``; in [0, 1). ``beta=0`` gives equal weights and
        ``beta -> 1`` approaches ``"inverse"``.

    Returns
    -------
    dict of int to float

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> class_weight(y)
    {0: 0.5555555555555556, 1: 5.0}
    """
    if method not in CLASS_WEIGHT_METHODS:
        raise InvalidParameterError(
            f"Unknown class weight `method`. Received: method={short_repr(method)}. "
            f"Use one of {list(CLASS_WEIGHT_METHODS)}."
        )
    counts = class_counts(y).astype(np.float64)
    n_classes = len(counts)
    if method == "balanced":
        weights = counts.sum() / (n_classes * counts)
    else:
        if method == "inverse":
            raw = 1.0 / counts
        elif method == "sqrt_inverse":
            raw = 1.0 / np.sqrt(counts)
        else:
            if (
                not isinstance(beta, numbers.Real)
                or isinstance(beta, bool)
                or not 0.0 <= beta < 1.0
            ):
                raise InvalidParameterError(
                    f"`beta` must be a float in [0, 1). Received: beta={short_repr(beta)}."
                )
            raw = (1.0 - beta) / (1.0 - np.power(beta, counts))
        weights = raw * n_classes / raw.sum()
    return {i: float(w) for i, w in enumerate(weights)}
