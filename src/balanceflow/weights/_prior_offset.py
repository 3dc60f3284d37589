"""The one prior-offset operation: ``logits + tau * log(prior)``.

Logit-adjusted loss, balanced softmax, post-hoc logit adjustment and the correction of
probabilities after resampling are all this shift, with different priors and signs, so one
tested function serves all of them. It works on numpy arrays (numpy arithmetic, no
TensorFlow) and on Keras tensors (``keras.ops``, any backend).
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = ["adjust_logits", "check_priors"]


def check_priors(class_priors: Any, *, name: str = "class_priors") -> np.ndarray:
    """Validate class priors: 1-D, finite, > 0. Priors that do not sum to 1 are normalised
    with a warning (a vector of counts is a common, harmless slip)."""
    priors = np.asarray(class_priors, dtype=np.float64)
    if priors.ndim != 1 or priors.size < 2:
        raise InvalidParameterError(
            f"`{name}` must be a 1-D sequence with one prior per class (at least 2). "
            f"Received: {name}={short_repr(class_priors)}."
        )
    if not np.all(np.isfinite(priors)) or np.any(priors <= 0):
        raise InvalidParameterError(
            f"Every value of `{name}` must be finite and > 0. Received: "
            f"{name}={short_repr(priors.tolist())}."
        )
    total = priors.sum()
    if not np.isclose(total, 1.0, rtol=1e-6, atol=1e-9):
        warnings.warn(
            f"`{name}` sums to {total:.6g}, not 1; normalising it.",
            UserWarning,
            stacklevel=3,
        )
        priors = priors / total
    return priors


def _log_prior_offset(class_priors: Any, n_logits: int) -> np.ndarray:
    priors = check_priors(class_priors)
    if n_logits == 1:
        if priors.size != 2:
            raise InvalidParameterError(
                "A single logit (sigmoid output) needs the priors of 2 classes. "
                f"Received {priors.size} priors."
            )
        # The log-odds of class 1: a binary softmax over [0, z] shifted by log priors.
        return np.array([np.log(priors[1]) - np.log(priors[0])])
    if priors.size != n_logits:
        raise InvalidParameterError(
            f"`class_priors` has {priors.size} values but the logits have {n_logits} "
            "columns. Give one prior per output unit."
        )
    return np.log(priors)


def adjust_logits(logits: Any, class_priors: Any, *, tau: float = 1.0) -> Any:
    """Return ``logits + tau * log(class_priors)``.

    Parameters
    ----------
    logits : array or tensor of shape (..., n_classes) or (..., 1)
        With one column (a sigmoid output) the offset is ``tau * log(p1 / p0)``.
    class_priors : sequence of float
        One prior per class, each > 0.
    tau : float, default=1.0
        Scale of the offset; ``>= 0`` adds the log prior (the training-time adjustment of
        logit-adjusted loss and balanced softmax); pass ``tau=-1`` to subtract it (post-hoc
        logit adjustment, Menon et al. 2021). Any finite value is allowed.

    Returns
    -------
    The same kind as ``logits``: a numpy array for numpy input, a tensor otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> adjust_logits(np.zeros((1, 2)), [0.9, 0.1]).round(4).tolist()
    [[-0.1054, -2.3026]]
    """
    if (
        not isinstance(tau, numbers.Real)
        or isinstance(tau, bool)
        or not np.isfinite(tau)
    ):
        raise InvalidParameterError(
            f"`tau` must be a finite float. Received: tau={tau!r}."
        )
    if isinstance(logits, (np.ndarray, list, tuple, numbers.Number)):
        arr = np.asarray(logits, dtype=np.float64)
        return arr + float(tau) * _log_prior_offset(class_priors, arr.shape[-1])
    import keras  # a tensor: stay on the caller's backend

    n_logits = int(logits.shape[-1])
    offset = _log_prior_offset(class_priors, n_logits)
    return logits + keras.ops.cast(float(tau) * offset, logits.dtype)
